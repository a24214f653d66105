import { describe, expect, it } from "vitest";
import { checkLogRecords, crc32c } from "../../local/table-files.ts";

/** One record of LevelDB's log format: masked CRC-32C of type and data, length, type, data. */
function record(data: Buffer, type = 1): Buffer {
  const header = Buffer.alloc(7);
  const crc = crc32c(Buffer.concat([Buffer.from([type]), data]));
  header.writeUInt32LE((((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0, 0);
  header.writeUInt16LE(data.length, 4);
  header.writeUInt8(type, 6);
  return Buffer.concat([header, data]);
}

describe("LevelDB's log records (local/table-files.ts)", () => {
  it("computes CRC-32C as LevelDB does (its own test vectors, util/crc32c_test.cc)", () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
  });

  it("accepts whole records across blocks, with the block's zero padding", () => {
    const first = record(Buffer.alloc(32_768 - 7 - 3, 1));
    const log = Buffer.concat([first, Buffer.alloc(3), record(Buffer.from("next block"))]);
    expect(checkLogRecords(log)).toEqual({});
  });

  it("names a flipped byte, a bad length and an unknown type; a record cut short at the end is a torn tail", () => {
    const log = Buffer.concat([record(Buffer.from("one")), record(Buffer.from("two"))]);
    const flipped = Buffer.from(log);
    flipped[12] = (flipped[12] ?? 0) ^ 1;
    expect(checkLogRecords(flipped).damage).toBe("the record at byte 10 fails its CRC-32C checksum");
    const unknown = Buffer.from(log);
    unknown[6] = 9;
    expect(checkLogRecords(unknown).damage).toBe("the record at byte 0 has an unknown type 9");
    const long = Buffer.from(log);
    long.writeUInt16LE(40_000, 4);
    expect(checkLogRecords(long).damage).toMatch(/claims 40000 bytes, beyond its block/);
    expect(checkLogRecords(log.subarray(0, log.length - 2))).toEqual({ tornTail: 8 });
  });
});
