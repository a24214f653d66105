import { describe, expect, it } from "vitest";
import { drawKillBatches, whilePortHeld } from "../../bench/chaos/crash.ts";
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

describe("the chaos crash stage's restart", () => {
  const busy = new Error(
    "the local stack did not start:\n127.0.0.1:41537 is already in use: stop what runs there or set SQS_PORT",
  );

  it("starts the stack again on the same ports while another process holds one of them", async () => {
    let calls = 0;
    const started = await whilePortHeld(
      async () => {
        calls++;
        if (calls < 3) throw busy;
        return "ready";
      },
      { waitMs: 1 },
    );
    expect(started).toBe("ready");
    expect(calls).toBe(3);
  });

  it("throws any other failure at once, and a held port after its last attempt", async () => {
    let calls = 0;
    const other = new Error("the local stack did not start:\nDATA_DIR is damaged");
    await expect(
      whilePortHeld(
        async () => {
          calls++;
          throw other;
        },
        { waitMs: 1 },
      ),
    ).rejects.toBe(other);
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      whilePortHeld(
        async () => {
          calls++;
          throw busy;
        },
        { attempts: 4, waitMs: 1 },
      ),
    ).rejects.toBe(busy);
    expect(calls).toBe(4);
  });
});
