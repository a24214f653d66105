import { TABLE_KEYS } from "#shared/resources.ts";
/**
 * DynamoDB request units computed from item sizes, because dynalite does not honour
 * ReturnConsumedCapacity. Rules (DynamoDB developer guide, "Read/write capacity mode" and "Item
 * sizes"): a write costs 1 WRU per KB of the item (rounded up, at least 1), plus the same again for
 * the size of its copy in every index it is in (GSI1 projects a delivery's identity and status); an
 * UpdateItem writes the index copy only when it names an attribute the index holds (a key or a
 * projected attribute: DynamoDB Developer Guide, "Provisioned throughput considerations for global
 * secondary indexes", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Writes);
 * a read costs 1 RRU per 4 KB read (strongly
 * consistent) or half that (eventually consistent), rounded up per item for GetItem/BatchGetItem and
 * over the whole result for Query; reading an item that does not exist still costs the minimum.
 * A Query reads the items its key condition selects (partition key, sort-key comparison or
 * begins_with), in sort-key order, up to its Limit: on the table the whole items, on GSI1 their index
 * copies (DynamoDB Developer Guide, "Read consumption for Query":
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
 */

/** A DynamoDB item or value in the wire format (`{"S": "…"}`, `{"M": {…}}`, …). */
export type AttributeValue = Record<string, unknown>;
export type Item = Record<string, AttributeValue>;

/** The size DynamoDB bills an item at: attribute names plus values (approximation for numbers). */
export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8(name) + valueSize(value);
  return size;
}

function valueSize(value: AttributeValue): number {
  const [type, inner] = Object.entries(value)[0] ?? ["NULL", true];
  switch (type) {
    case "S":
      return utf8(String(inner));
    case "N":
      return numberSize(String(inner));
    case "B":
      // Base64 on the wire; bytes when read back through the SDK.
      return inner instanceof Uint8Array ? inner.byteLength : Buffer.from(String(inner), "base64").length;
    case "BOOL":
    case "NULL":
      return 1;
    case "SS":
      return (inner as string[]).reduce((t, s) => t + utf8(s), 0);
    case "NS":
      return (inner as string[]).reduce((t, n) => t + numberSize(n), 0);
    case "BS":
      return (inner as string[]).reduce((t, b) => t + Buffer.from(b, "base64").length, 0);
    case "L":
      return 3 + (inner as AttributeValue[]).reduce((t, v) => t + 1 + valueSize(v), 0);
    case "M":
      return 3 + Object.entries(inner as Item).reduce((t, [k, v]) => t + 1 + utf8(k) + valueSize(v), 0);
    default:
      return 0;
  }
}

/** About one byte per two significant digits, plus one. */
function numberSize(text: string): number {
  const digits = text
    .replace(/^-/, "")
    .replace(/[eE].*$/, "")
    .replace(".", "")
    .replace(/^0+/, "");
  return Math.ceil(Math.max(digits.replace(/0+$/, "").length, 1) / 2) + 1;
}

const utf8 = (text: string) => Buffer.byteLength(text, "utf8");

export const writeUnits = (size: number) => Math.max(1, Math.ceil(size / 1024));
export const readUnits = (size: number, consistent: boolean) =>
  Math.max(1, Math.ceil(size / 4096)) * (consistent ? 1 : 0.5);

/** One DynamoDB request as sent on the wire (the JSON body), as the SDK meter recorded it. */
export interface DynamoRequest {
  operation: string;
  body: Record<string, unknown>;
}

/**
 * The table as it stands after the run: items by `PK\u0000SK`, the items under each PK, and the
 * GSI1 copies under each GSI1PK.
 */
export interface TableSnapshot {
  get(pk: string, sk: string): Item | undefined;
  partition(pk: string): Item[];
  indexPartition(gsi1pk: string): Item[];
}

export function snapshotOf(items: readonly Item[]): TableSnapshot {
  const byKey = new Map<string, Item>();
  const byPartition = new Map<string, Item[]>();
  const byIndexPartition = new Map<string, Item[]>();
  const add = (map: Map<string, Item[]>, key: string, item: Item) => {
    const list = map.get(key) ?? [];
    list.push(item);
    map.set(key, list);
  };
  for (const item of items) {
    const pk = str(item.PK);
    const sk = str(item.SK);
    byKey.set(`${pk}\u0000${sk}`, item);
    add(byPartition, pk, item);
    const copy = indexCopy(item);
    if (copy !== undefined) add(byIndexPartition, str(copy[TABLE_KEYS.gsi1.partitionKey]), copy);
  }
  return {
    get: (pk, sk) => byKey.get(`${pk}\u0000${sk}`),
    partition: (pk) => byPartition.get(pk) ?? [],
    indexPartition: (gsi1pk) => byIndexPartition.get(gsi1pk) ?? [],
  };
}

/**
 * The items a Query reads: those of its partition that its sort-key condition selects (`=`, `<`,
 * `<=`, `>`, `>=`, `BETWEEN`, `begins_with`), in the order it reads them, up to `Limit`.
 */
export function queriedItems(body: Record<string, unknown>, table: TableSnapshot): Item[] {
  const values = (body.ExpressionAttributeValues ?? {}) as Item;
  const names = (body.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const index = typeof body.IndexName === "string";
  const pkName = index ? TABLE_KEYS.gsi1.partitionKey : TABLE_KEYS.partitionKey;
  const skName = index ? TABLE_KEYS.gsi1.sortKey : TABLE_KEYS.sortKey;
  const condition = String(body.KeyConditionExpression ?? "");
  const resolve = (token: string) => names[token] ?? token;
  let pk = "";
  let test: (sk: string) => boolean = () => true;
  for (const clause of condition.split(/\s+AND\s+(?![^(]*\))/i)) {
    const trimmed = clause.trim().replace(/^\((.*)\)$/, "$1");
    const beginsWith = /^begins_with\s*\(\s*(#?\w+)\s*,\s*(:\w+)\s*\)$/i.exec(trimmed);
    if (beginsWith?.[1] && beginsWith[2]) {
      const prefix = str(values[beginsWith[2]]);
      test = (sk) => sk.startsWith(prefix);
      continue;
    }
    const between = /^(#?\w+)\s+BETWEEN\s+(:\w+)\s+AND\s+(:\w+)$/i.exec(trimmed);
    if (between?.[2] && between[3]) {
      const low = str(values[between[2]]);
      const high = str(values[between[3]]);
      test = (sk) => sk >= low && sk <= high;
      continue;
    }
    const comparison = /^(#?\w+)\s*(=|<=|>=|<|>)\s*(:\w+)$/.exec(trimmed);
    if (!comparison?.[1] || !comparison[2] || !comparison[3]) continue;
    const value = str(values[comparison[3]]);
    if (resolve(comparison[1]) === pkName) {
      pk = value;
      continue;
    }
    const op = comparison[2];
    test = (sk) =>
      op === "="
        ? sk === value
        : op === "<"
          ? sk < value
          : op === "<="
            ? sk <= value
            : op === ">"
              ? sk > value
              : sk >= value;
  }
  const partition = index ? table.indexPartition(pk) : table.partition(pk);
  const ascending = body.ScanIndexForward !== false;
  const selected = partition
    .filter((item) => test(str(item[skName])))
    .sort((a, b) => {
      const x = str(a[skName]);
      const y = str(b[skName]);
      return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
    });
  const limit = typeof body.Limit === "number" ? body.Limit : undefined;
  return limit === undefined ? selected : selected.slice(0, limit);
}

const str = (value: AttributeValue | undefined): string =>
  value && typeof value.S === "string" ? value.S : "";
/** What GSI1 holds of an item: the table and index keys and the projected attributes (shared/resources.ts). */
const INDEX_ATTRIBUTES = new Set<string>([
  TABLE_KEYS.partitionKey,
  TABLE_KEYS.sortKey,
  TABLE_KEYS.gsi1.partitionKey,
  TABLE_KEYS.gsi1.sortKey,
  ...TABLE_KEYS.gsi1.projectedAttributes,
]);

/** The copy of an item GSI1 keeps, or undefined when the item is not in the index. */
export function indexCopy(item: Item | undefined): Item | undefined {
  if (item === undefined || item[TABLE_KEYS.gsi1.partitionKey] === undefined) return undefined;
  const projected: Item = {};
  for (const [name, value] of Object.entries(item)) if (INDEX_ATTRIBUTES.has(name)) projected[name] = value;
  return projected;
}

/** Write units the index copy of an item costs: billed by its projected size; nothing when not indexed. */
export function indexWriteUnits(item: Item | undefined): number {
  const copy = indexCopy(item);
  return copy === undefined ? 0 : writeUnits(itemSize(copy));
}

/**
 * Whether an UpdateItem names (SET, REMOVE, ADD, DELETE) an attribute GSI1 holds. An update that
 * names none leaves the index copy as it was, and DynamoDB writes nothing to the index.
 */
export function updateTouchesIndex(body: Record<string, unknown>): boolean {
  const expression = String(body.UpdateExpression ?? "");
  const names = (body.ExpressionAttributeNames ?? {}) as Record<string, string>;
  // The attribute each action names: the path at the start of every comma-separated clause.
  const clauses = expression
    .split(/\b(?:SET|REMOVE|ADD|DELETE)\b/)
    .flatMap((section) => section.split(","))
    .map((clause) => clause.trim().split(/[\s=.[]/)[0] ?? "")
    .filter((path) => path !== "");
  return clauses.some((path) => INDEX_ATTRIBUTES.has(names[path] ?? path));
}

/**
 * Units of the given requests. Writes are sized by the item as it stands after the run (for the
 * e2e run, where every delivery is written once, that is the item the write produced).
 */
export function requestUnits(
  requests: readonly DynamoRequest[],
  table: TableSnapshot,
  /** When given, read units are also added up here by what was read (`readKind`). */
  readsByKind?: Record<string, number>,
  /** When given, write and read units are also added up here by table name. */
  unitsByTable?: Record<string, { wru: number; rru: number }>,
): { wru: number; rru: number; indexWru: number } {
  let wru = 0;
  let rru = 0;
  // The GSIs' share of the writes (their copies of the items), for their own capacity.
  let indexWru = 0;
  const ofTable = (name: unknown) => {
    const key = String(name ?? "");
    if (unitsByTable && unitsByTable[key] === undefined) unitsByTable[key] = { wru: 0, rru: 0 };
    return unitsByTable?.[key];
  };
  const write = (tableName: unknown, units: number, indexUnits = 0) => {
    wru += units + indexUnits;
    indexWru += indexUnits;
    const t = ofTable(tableName);
    if (t) t.wru += units + indexUnits;
  };
  const read = (tableName: unknown, kind: string, units: number) => {
    rru += units;
    if (readsByKind) readsByKind[kind] = (readsByKind[kind] ?? 0) + units;
    const t = ofTable(tableName);
    if (t) t.rru += units;
  };
  for (const { operation, body } of requests) {
    const consistent = body.ConsistentRead === true;
    switch (operation) {
      case "PutItem": {
        const item = body.Item as Item;
        write(body.TableName, writeUnits(itemSize(item)), indexWriteUnits(item));
        break;
      }
      case "UpdateItem": {
        const key = body.Key as Item;
        const item = table.get(str(key.PK), str(key.SK));
        write(
          body.TableName,
          writeUnits(item ? itemSize(item) : itemSize(key)),
          updateTouchesIndex(body) ? indexWriteUnits(item) : 0,
        );
        break;
      }
      case "DeleteItem": {
        const key = body.Key as Item;
        const item = table.get(str(key.PK), str(key.SK));
        write(body.TableName, writeUnits(item ? itemSize(item) : itemSize(key)), indexWriteUnits(item));
        break;
      }
      case "GetItem": {
        const key = body.Key as Item;
        const item = table.get(str(key.PK), str(key.SK));
        read(body.TableName, `GetItem ${readKind(key)}`, readUnits(item ? itemSize(item) : 0, consistent));
        break;
      }
      case "BatchGetItem": {
        const requestItems = (body.RequestItems ?? {}) as Record<
          string,
          { Keys?: Item[]; ConsistentRead?: boolean }
        >;
        for (const [tableName, request] of Object.entries(requestItems)) {
          for (const key of request.Keys ?? []) {
            const item = table.get(str(key.PK), str(key.SK));
            read(
              tableName,
              `BatchGetItem ${readKind(key)}`,
              readUnits(item ? itemSize(item) : 0, request.ConsistentRead === true),
            );
          }
        }
        break;
      }
      case "Query": {
        const size = queriedItems(body, table).reduce((t, item) => t + itemSize(item), 0);
        read(body.TableName, `Query ${String(body.IndexName ?? "table")}`, readUnits(size, consistent));
        break;
      }
      case "BatchWriteItem": {
        const requestItems = (body.RequestItems ?? {}) as Record<string, { PutRequest?: { Item: Item } }[]>;
        for (const [tableName, writes] of Object.entries(requestItems)) {
          for (const w of writes) {
            const item = w.PutRequest?.Item;
            write(tableName, writeUnits(item ? itemSize(item) : 0), indexWriteUnits(item));
          }
        }
        break;
      }
      default:
        break;
    }
  }
  return { wru, rru, indexWru };
}

/**
 * What a key reads, for the read units' breakdown: its PK's and SK's leading words
 * (`CUSTOMER/SUBSCRIPTION`); a sort key that starts with a value, not a word (a log head's
 * timestamp), is `*`.
 */
function readKind(key: Item): string {
  const word = (value: string) => {
    const first = value.split("#")[0] ?? "";
    return /^[A-Z_]+$/.test(first) ? first : "*";
  };
  return `${word(str(key.PK))}/${word(str(key.SK))}`;
}

/**
 * The requests without the table split's transition reads: for a day after the delivery records
 * moved to a table of their own (and for records older than that), the delivery function also looks
 * for a delivery's records in the main table (shared/adapters/dynamodb/delivery-tables.ts). In a
 * bench whose deliveries table was created a moment ago, every delivery is in that window, so its
 * reads of delivery records (`LOG#`, `DELIVERY#`, `EVENT#` keys) in the main table are taken out here
 * and counted apart: the steady state reads them from the deliveries table only.
 */
export function withoutSplitFallback(requests: readonly DynamoRequest[], mainTable: string): DynamoRequest[] {
  const isRecord = (key: Item) => /^(LOG|DELIVERY|EVENT)#/.test(str(key.PK));
  const kept: DynamoRequest[] = [];
  for (const request of requests) {
    const { operation, body } = request;
    if (operation === "GetItem" && body.TableName === mainTable && isRecord(body.Key as Item)) continue;
    if (operation === "Query" && body.TableName === mainTable && body.IndexName === undefined) {
      const pk = (body.ExpressionAttributeValues as Record<string, AttributeValue> | undefined)?.[":pk"];
      if (pk !== undefined && /^(LOG|DELIVERY|EVENT)#/.test(str(pk))) continue;
    }
    if (operation === "BatchGetItem") {
      const items = (body.RequestItems ?? {}) as Record<string, { Keys?: Item[] }>;
      const main = items[mainTable];
      if (main?.Keys !== undefined) {
        const keys = main.Keys.filter((key) => !isRecord(key));
        const rest = Object.fromEntries(Object.entries(items).filter(([name]) => name !== mainTable));
        const requestItems = keys.length > 0 ? { ...rest, [mainTable]: { ...main, Keys: keys } } : rest;
        if (Object.keys(requestItems).length > 0) {
          kept.push({ operation, body: { ...body, RequestItems: requestItems } });
        }
        continue;
      }
    }
    kept.push(request);
  }
  return kept;
}
