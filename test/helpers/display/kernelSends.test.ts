/**
 * queueBusySends on a stand-in for zeromq 6's Socket: a few sends go out synchronously, the next is deferred to the
 * event loop, and any send while that one is pending throws EBUSY synchronously (zeromq's src/socket.cc). The real
 * kernel case is in test/notebooks/runner.test.ts (d-many-outputs).
 */
import { describe, expect, it } from "vitest";
import { queueBusySends } from "../../../src/helpers/display";

function fakeSocketClass(syncLimit: number) {
  class FakeSocket {
    sent: string[] = [];
    sync = 0;
    writing = false;
    send(msg: string): Promise<void> {
      if (this.writing) throw Object.assign(new Error("Socket is busy writing; only one send operation may be in progress at any time"), { code: "EBUSY" });
      if (this.sync++ < syncLimit) {
        this.sent.push(msg);
        return Promise.resolve();
      }
      this.writing = true;
      return new Promise((resolve) => setImmediate(() => {
        this.sent.push(msg);
        this.writing = false;
        this.sync = 0;
        resolve();
      }));
    }
  }
  Object.defineProperty(FakeSocket.prototype, "send", { writable: false, configurable: true, value: FakeSocket.prototype.send });
  return FakeSocket;
}

describe("queueBusySends (tslab's zeromq sends)", () => {
  it("the unwrapped stand-in throws EBUSY like zeromq: the bug being worked around", () => {
    const S = fakeSocketClass(3);
    const s = new S();
    for (let i = 0; i < 4; i++) void s.send(`m${i}`);
    expect(() => s.send("m4")).toThrow(/busy writing/);
  });

  it("queues what would throw EBUSY and sends everything, in order, without a throw", async () => {
    const S = fakeSocketClass(3);
    expect(queueBusySends(S)).toBe(true);
    expect(queueBusySends(S)).toBe(false); // once per class
    const s = new S();
    const promises: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) promises.push(s.send(`m${i}`));
    expect(s.sent).toEqual(["m0", "m1", "m2"]); // the synchronous ones went out at once
    await Promise.all(promises);
    expect(s.sent).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    // Later sends, once the queue is empty, take the direct path again.
    await s.send("after");
    expect(s.sent.at(-1)).toBe("after");
  });

  it("passes other errors through, and keeps sockets' queues apart", async () => {
    const S = fakeSocketClass(1);
    queueBusySends(S);
    const a = new S();
    const b = new S();
    const all = [a.send("a0"), a.send("a1"), b.send("b0"), a.send("a2"), b.send("b1"), b.send("b2")];
    await Promise.all(all);
    expect(a.sent).toEqual(["a0", "a1", "a2"]);
    expect(b.sent).toEqual(["b0", "b1", "b2"]);
    const C = class { send(): Promise<void> { throw new TypeError("Message must be present"); } };
    queueBusySends(C);
    expect(() => new C().send()).toThrow(TypeError);
  });
});
