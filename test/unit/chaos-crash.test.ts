import { describe, expect, it } from "vitest";
import { drawKillBatches } from "../../bench/chaos/crash.ts";
import { createRandom } from "../../bench/chaos/random.ts";

describe("the chaos crash stage's kill moments", () => {
  it("are distinct batches past the first tenth, the same for the same seed", () => {
    const draw = (seed: number) => {
      const random = createRandom(seed);
      return [...drawKillBatches(200, 6, () => random.next())].sort((a, b) => a - b);
    };
    const kills = draw(7);
    expect(kills).toHaveLength(6);
    expect(new Set(kills).size).toBe(6);
    expect(kills.every((b) => b >= 20 && b < 200)).toBe(true);
    expect(draw(7)).toEqual(kills);
    expect(draw(8)).not.toEqual(kills);
  });

  it("never asks for more kills than there are batches to kill after", () => {
    const random = createRandom(1);
    expect(drawKillBatches(3, 10, () => random.next()).size).toBe(3);
  });
});
