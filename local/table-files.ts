import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import * as z from "zod";
import { CodedError } from "#shared/domain/errors.ts";

/**
 * The integrity of the local table's files (dynalite keeps the table in LevelDB under
 * DATA_DIR/dynamodb). LevelDB itself, without paranoid checks (which classic-level does not expose),
 * skips a log block whose checksum fails and recovers what is left: a flipped byte lost most access
 * keys silently, and a truncated log brought a deleted subscription back. So the stack checks the
 * files before dynalite opens them and refuses to start on damage, naming the file:
 *
 * - After a clean stop it records every file's size and SHA-256 (DATA_DIR/dynamodb.checksums.json);
 *   the next start compares them all: any change, truncation, missing or extra file is damage.
 * - After a crash (kill -9, a power loss) there is no such record: the write-ahead logs (`*.log`,
 *   `MANIFEST-*`) are read record by record and each record's CRC-32C checked, as LevelDB's log format
 *   frames them; table files (`*.ldb`, immutable once written) recorded at the last start are
 *   compared with their SHA-256. A record cut short at the very end of a log is the one write a crash
 *   interrupted — never acknowledged, as LevelDB answers only after the whole record is written — and
 *   is left to LevelDB to drop, with a warning.
 */

export class DamagedTableError extends CodedError {
  override readonly name = "DamagedTableError";
  readonly code = "LOCAL_TABLE_DAMAGED";
}

/** Beside the LevelDB directory, so that LevelDB never sees it. */
export const CHECKSUMS_FILE = "dynamodb.checksums.json";

const checksumsSchema = z.object({
  /** True when written after dynalite closed the files; false while a stack runs on them. */
  clean: z.boolean(),
  files: z.record(z.string(), z.object({ size: z.number().int().min(0), sha256: z.string() })),
});
type Checksums = z.infer<typeof checksumsSchema>;

/** LevelDB's own files: its informational LOG and its LOCK change without meaning anything. */
const tracked = (name: string) => !/^(LOG(\.old)?|LOCK)$/.test(name) && !name.startsWith(".");
/** Write-ahead logs in LevelDB's log format (records framed with a CRC-32C). */
const isLogFormat = (name: string) => name.endsWith(".log") || name.startsWith("MANIFEST-");
/** Sorted tables: written once, never changed until deleted by a compaction. */
const isTable = (name: string) => name.endsWith(".ldb") || name.endsWith(".sst");

export interface TableFilesCheck {
  /** What is worth a warning but not a refusal (a write a crash interrupted). */
  readonly warnings: readonly string[];
}

/**
 * Checks the LevelDB directory before dynalite opens it; throws DamagedTableError naming every
 * damaged file and what to do. Then marks the files as in use (until recordCleanStop).
 */
export function checkTableFiles(dir: string): TableFilesCheck {
  const checksumsFile = path.join(path.dirname(dir), CHECKSUMS_FILE);
  const recorded = readChecksums(checksumsFile);
  const present = existsSync(dir) ? readdirSync(dir).filter(tracked).sort() : [];
  const problems: string[] = [];
  const warnings: string[] = [];
  const file = (name: string) => path.join(dir, name);

  if (recorded?.clean) {
    for (const [name, expected] of Object.entries(recorded.files)) {
      if (!present.includes(name)) {
        problems.push(`${file(name)} is missing`);
        continue;
      }
      const actual = fingerprint(file(name));
      if (actual.size !== expected.size) {
        problems.push(`${file(name)} has ${actual.size} bytes, ${expected.size} when the stack last stopped`);
      } else if (actual.sha256 !== expected.sha256) {
        problems.push(`${file(name)} has changed since the stack last stopped (its SHA-256 differs)`);
      }
    }
    for (const name of present) {
      if (!(name in recorded.files)) problems.push(`${file(name)} was not there when the stack last stopped`);
    }
  } else {
    for (const name of present) {
      if (isLogFormat(name)) {
        const check = checkLogRecords(readFileSync(file(name)));
        if (check.damage) problems.push(`${file(name)}: ${check.damage}`);
        else if (check.tornTail) {
          warnings.push(
            `${file(name)} ends in a record cut short (${check.tornTail} bytes): the write a crash interrupted, never acknowledged; LevelDB drops it`,
          );
        }
      } else if (isTable(name) && recorded?.files[name]) {
        const expected = recorded.files[name];
        const actual = fingerprint(file(name));
        if (actual.size !== expected.size || actual.sha256 !== expected.sha256) {
          problems.push(`${file(name)} has changed since it was written (its SHA-256 differs)`);
        }
      }
    }
  }

  if (problems.length > 0) {
    throw new DamagedTableError(
      [
        `the local table's files in ${dir} are damaged:`,
        ...problems.map((problem) => `  - ${problem}`),
        "Nothing was changed. Restore that directory from a backup, or delete it (its access keys, subscriptions",
        `and delivery log are lost) together with ${checksumsFile}, and start again.`,
      ].join("\n"),
    );
  }

  // In use from now on: a crash leaves this record, with the tables that exist now.
  writeChecksums(checksumsFile, {
    clean: false,
    files: Object.fromEntries(present.filter(isTable).map((name) => [name, fingerprint(file(name))])),
  });
  return { warnings };
}

/** After dynalite closed the files: records every file, for the next start to compare. */
export function recordCleanStop(dir: string): void {
  const present = existsSync(dir) ? readdirSync(dir).filter(tracked).sort() : [];
  writeChecksums(path.join(path.dirname(dir), CHECKSUMS_FILE), {
    clean: true,
    files: Object.fromEntries(present.map((name) => [name, fingerprint(path.join(dir, name))])),
  });
}

function readChecksums(file: string): Checksums | undefined {
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    parsed = undefined;
  }
  const result = checksumsSchema.safeParse(parsed);
  if (!result.success) {
    throw new DamagedTableError(
      `${file} is damaged: it is not the record of the table's files the stack writes. Delete it to start without comparing the files (they are still checked record by record).`,
    );
  }
  return result.data;
}

function writeChecksums(file: string, checksums: Checksums): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(checksums, null, 2)}\n`);
  renameSync(temporary, file);
}

function fingerprint(file: string): { size: number; sha256: string } {
  const content = readFileSync(file);
  return { size: content.length, sha256: createHash("sha256").update(content).digest("hex") };
}

// --- LevelDB's log format (leveldb/doc/log_format.md) ---------------------------------------------
// The file is a sequence of 32 KiB blocks; a block holds records of a 7-byte header (masked CRC-32C
// of type and data, little-endian; data length, little-endian 16 bits; type) and their data. A
// block's last < 7 bytes are zero padding. Types: 1 full, 2 first, 3 middle, 4 last fragment; a zero
// header (type 0, length 0) is preallocated space.

const BLOCK_SIZE = 32_768;
const HEADER_SIZE = 7;
const MAX_RECORD_TYPE = 4;

export interface LogCheck {
  /** What is wrong, at which offset; undefined when every record is whole and its checksum right. */
  readonly damage?: string;
  /** Bytes of a last record cut short by the end of the file (a write a crash interrupted). */
  readonly tornTail?: number;
}

export function checkLogRecords(content: Buffer): LogCheck {
  let offset = 0;
  while (offset < content.length) {
    const blockEnd = Math.min(offset - (offset % BLOCK_SIZE) + BLOCK_SIZE, content.length);
    if (blockEnd - offset < HEADER_SIZE) {
      if (blockEnd === content.length && blockEnd % BLOCK_SIZE !== 0) {
        return { tornTail: blockEnd - offset };
      }
      if (!isZero(content, offset, blockEnd)) return { damage: `the padding at byte ${offset} is not zero` };
      offset = blockEnd;
      continue;
    }
    const storedCrc = content.readUInt32LE(offset);
    const length = content.readUInt16LE(offset + 4);
    const type = content.readUInt8(offset + 6);
    if (type === 0 && length === 0 && storedCrc === 0) {
      // Preallocated space: LevelDB skips it; it must be zero to the end of the block.
      if (!isZero(content, offset, blockEnd))
        return { damage: `a zero record at byte ${offset} is followed by data` };
      offset = blockEnd;
      continue;
    }
    if (type < 1 || type > MAX_RECORD_TYPE) {
      return { damage: `the record at byte ${offset} has an unknown type ${type}` };
    }
    const end = offset + HEADER_SIZE + length;
    if (end > offset - (offset % BLOCK_SIZE) + BLOCK_SIZE) {
      return { damage: `the record at byte ${offset} claims ${length} bytes, beyond its block` };
    }
    if (end > content.length) return { tornTail: content.length - offset };
    const actualCrc = maskCrc(crc32c(content.subarray(offset + 6, end)));
    if (actualCrc !== storedCrc) return { damage: `the record at byte ${offset} fails its CRC-32C checksum` };
    offset = end;
  }
  return {};
}

function isZero(content: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (content[i] !== 0) return false;
  return true;
}

/** LevelDB stores CRCs masked ("rotate right by 15 bits and add a constant"), util/crc32c.h. */
function maskCrc(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    // Castagnoli's polynomial, reflected.
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), as LevelDB computes it. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
