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

/** The table as it stands after the run: items by `PK\u0000SK`, and the item keys under each PK. */
export interface TableSnapshot {
  get(pk: string, sk: string): Item | undefined;
  partition(pk: string): Item[];
}

export function snapshotOf(items: readonly Item[]): TableSnapshot {
  const byKey = new Map<string, Item>();
  const byPartition = new Map<string, Item[]>();
  for (const item of items) {
    const pk = str(item.PK);
    const sk = str(item.SK);
    byKey.set(`${pk}\u0000${sk}`, item);
    const list = byPartition.get(pk) ?? [];
    list.push(item);
    byPartition.set(pk, list);
  }
  return {
    get: (pk, sk) => byKey.get(`${pk}\u0000${sk}`),
    partition: (pk) => byPartition.get(pk) ?? [],
  };
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
): { wru: number; rru: number } {
  let wru = 0;
  let rru = 0;
  for (const { operation, body } of requests) {
    const consistent = body.ConsistentRead === true;
    switch (operation) {
      case "PutItem": {
        const item = body.Item as Item;
        wru += writeUnits(itemSize(item)) + indexWriteUnits(item);
        break;
      }
      case "UpdateItem": {
        const key = body.Key as Item;
        const item = table.get(str(key.PK), str(key.SK));
        wru += writeUnits(item ? itemSize(item) : itemSize(key));
        if (updateTouchesIndex(body)) wru += indexWriteUnits(item);
        break;
      }
      case "DeleteItem": {
        const key = body.Key as Item;
        const item = table.get(str(key.PK), str(key.SK));
        wru += writeUnits(item ? itemSize(item) : itemSize(key)) + indexWriteUnits(item);
        break;
      }
      case "GetItem": {
        const key = body.Key as Item;
        const item = table.get(str(key.PK), str(key.SK));
        rru += readUnits(item ? itemSize(item) : 0, consistent);
        break;
      }
      case "BatchGetItem": {
        const requestItems = (body.RequestItems ?? {}) as Record<
          string,
          { Keys?: Item[]; ConsistentRead?: boolean }
        >;
        for (const request of Object.values(requestItems)) {
          for (const key of request.Keys ?? []) {
            const item = table.get(str(key.PK), str(key.SK));
            rru += readUnits(item ? itemSize(item) : 0, request.ConsistentRead === true);
          }
        }
        break;
      }
      case "Query": {
        const values = (body.ExpressionAttributeValues ?? {}) as Item;
        // The partition key value: the first string value whose placeholder the condition tests with "=".
        const condition = String(body.KeyConditionExpression ?? "");
        const match = /(?:^|\s|\()(?:#?\w+)\s*=\s*(:\w+)/.exec(condition);
        const pk = match?.[1] ? str(values[match[1]]) : "";
        const size = body.IndexName ? 0 : table.partition(pk).reduce((t, item) => t + itemSize(item), 0);
        rru += readUnits(size, consistent);
        break;
      }
      case "BatchWriteItem": {
        const requestItems = (body.RequestItems ?? {}) as Record<string, { PutRequest?: { Item: Item } }[]>;
        for (const writes of Object.values(requestItems)) {
          for (const write of writes) {
            const item = write.PutRequest?.Item;
            wru += writeUnits(item ? itemSize(item) : 0) + indexWriteUnits(item);
          }
        }
        break;
      }
      default:
        break;
    }
  }
  return { wru, rru };
}
