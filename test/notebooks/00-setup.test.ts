/** The smoke notebook runs end to end and its handout shows the banner, a chart and images. */
import { beforeAll, describe, expect, it } from "vitest";
import { outputsByMime, runNotebook, type NotebookRunOutput } from "./run-notebook";

let nb: NotebookRunOutput;
beforeAll(async () => {
  nb = await runNotebook("00-setup", 300);
}, (300 + 120) * 1000);

describe("00-setup (quick)", () => {
  it("publishes the results contract with the real hymenoptera counts", () => {
    expect(nb.results.notebook).toBe("00-setup");
    expect(nb.results.profile).toBe("quick");
    expect(nb.results.metrics).toMatchObject({ train_images: 244, val_images: 153, classes: 2 });
    expect(nb.results.wall_s).toBeGreaterThan(0);
  });

  it("prints the profile and backend banner in its first code cell", () => {
    const first = nb.executed.cells.find((c: any) => c.cell_type === "code");
    const text = first.outputs.map((o: any) => [o.text].flat().join("")).join("");
    expect(text).toMatch(/profile: quick/);
    expect(text).toMatch(new RegExp(`backend: ${nb.results.backend} \\(`));
    expect(text).toMatch(/\d+ threads?/);
  });

  it("shows images and a chart as PNG, a table as HTML, in the notebook and in the handout", () => {
    const out = outputsByMime(nb.executed);
    const pngs = out.get("image/png") ?? [];
    expect(pngs.length).toBeGreaterThanOrEqual(3); // sample grid, augmentation grid, bar chart
    for (const p of pngs) expect(Buffer.from(p, "base64").subarray(1, 4).toString()).toBe("PNG");
    expect((out.get("text/html") ?? []).join("")).toContain("<table");
    expect(nb.handout.match(/<img src="data:image\/png;base64,/g)?.length ?? 0).toBeGreaterThanOrEqual(3);
    expect(nb.handout).toContain("backend: ");
  });
});
