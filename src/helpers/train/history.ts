/** What a training run records per epoch, shared by the loop, its checkpoints and its summaries. */

export interface EpochLogs {
  epoch: number;
  loss: number;
  acc: number;
  val_loss?: number;
  val_acc?: number;
  /** Learning rate (base rate times schedule factor) at the epoch's last step. */
  lr: number;
  /** Wall time of the epoch including validation. */
  seconds: number;
}

export interface TrainingHistory {
  epochs: EpochLogs[];
  /** Best value of the monitored metric and its epoch. */
  best?: { epoch: number; monitor: string; value: number };
  stoppedEarly: boolean;
  /** Epoch this call started from (> 0 after a resume). */
  startEpoch: number;
}
