import { createHash } from "node:crypto";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { type EndpointHealth, HEALTHY, type HealthChange } from "../../domain/delivery/endpoint-health.ts";
import type { EndpointHealthStore as EndpointHealthStorePort } from "../../domain/ports/stores.ts";
import { batchGetItems, type Item, isConditionalCheckFailed, itemKeyString, keys } from "./table.ts";

/** An endpoint's state is deleted by TTL a day after its last change (an endpoint left alone is healthy). */
const HEALTH_TTL_SECONDS = 24 * 3600;

/** The URL's identity in the table: a hash, so URLs (which may carry tokens) are not stored. */
export function endpointHash(url: string): string {
  return createHash("sha256").update(url).digest("hex").slice(0, 32);
}

function healthFromItem(item: Item | undefined): EndpointHealth {
  if (item === undefined) return HEALTHY;
  const ms = (value: unknown) => (typeof value === "number" ? value : null);
  return {
    consecutiveTimeouts: typeof item.consecutive_timeouts === "number" ? item.consecutive_timeouts : 0,
    slowUntil: ms(item.slow_until),
    openUntil: ms(item.open_until),
    probeUntil: ms(item.probe_until),
    fastUntil: ms(item.fast_until),
    dialUntil: ms(item.dial_until),
  };
}

interface CacheEntry {
  readonly health: EndpointHealth;
  readonly readAt: number;
}

/**
 * The endpoints' shared state (docs/delivery.md, "Fair delivery"): one small item per endpoint that
 * has misbehaved, `ENDPOINT#<hash of the URL>`. Reads are one BatchGetItem per batch for the
 * endpoints not read in the last `cacheTtlMs` by this instance; writes happen only when something
 * changes (a timeout, a budget overrun, a recovery, a probe claim, a first dial and the proof that
 * ends it), so a healthy endpoint in use costs about one write a minute, not one per delivery. Every delivery instance reads and writes the same items: what one learns (this
 * endpoint black-holes) all of them act on within the cache TTL.
 */
export class EndpointHealthStore implements EndpointHealthStorePort {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly cacheTtlMs: number,
  ) {}

  /** The state of each URL (HEALTHY when it has none), read once per cache TTL per instance. */
  async load(urls: readonly string[], nowMs: number): Promise<Map<string, EndpointHealth>> {
    const result = new Map<string, EndpointHealth>();
    const toRead: string[] = [];
    for (const url of new Set(urls)) {
      const cached = this.cache.get(url);
      if (cached !== undefined && nowMs - cached.readAt < this.cacheTtlMs) result.set(url, cached.health);
      else toRead.push(url);
    }
    if (toRead.length > 0) {
      const items = await batchGetItems(
        this.doc,
        this.tableName,
        toRead.map((url) => keys.endpointHealth(endpointHash(url))),
        new Date(nowMs),
      );
      for (const url of toRead) {
        const health = healthFromItem(items.get(itemKeyString(keys.endpointHealth(endpointHash(url)))));
        this.remember(url, health, nowMs);
        result.set(url, health);
      }
    }
    return result;
  }

  private remember(url: string, health: EndpointHealth, nowMs: number): void {
    // Bounded: an instance sees a bounded set of endpoints between cold starts, but do not grow forever.
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(url, { health, readAt: nowMs });
  }

  /** Writes what an attempt taught, and keeps this instance's view in step. */
  async apply(url: string, change: HealthChange, nowMs: number): Promise<EndpointHealth> {
    const key = keys.endpointHealth(endpointHash(url));
    const expires = Math.floor(nowMs / 1000) + HEALTH_TTL_SECONDS;
    if (change.kind === "mark_slow") {
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          // No longer proven fast; the first dial (if this was it) is over.
          UpdateExpression:
            "SET slow_until = :slow, entity = :entity, expires_at = :expires REMOVE fast_until, dial_until",
          ExpressionAttributeValues: {
            ":slow": change.slowUntil,
            ":entity": "endpoint_health",
            ":expires": expires,
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return this.rememberItem(url, response.Attributes, nowMs);
    }
    if (change.kind === "timeout") {
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression:
            "ADD consecutive_timeouts :one SET slow_until = :slow, entity = :entity, expires_at = :expires REMOVE fast_until, dial_until",
          ExpressionAttributeValues: {
            ":one": 1,
            ":slow": change.slowUntil,
            ":entity": "endpoint_health",
            ":expires": expires,
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      const health = healthFromItem(response.Attributes);
      const openUntil = change.openUntilIfThreshold(health.consecutiveTimeouts);
      if (openUntil === null || (health.openUntil !== null && health.openUntil >= openUntil)) {
        return this.rememberItem(url, response.Attributes, nowMs);
      }
      // At the threshold (or a failed probe): open, or reopen for longer. The slow lane keeps the
      // endpoint for as long as the breaker is open and then some, so the main lane never dials it.
      const opened = await this.doc
        .send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: "SET open_until = :open, slow_until = :slow REMOVE probe_until",
            ConditionExpression: "attribute_not_exists(open_until) OR open_until < :open",
            ExpressionAttributeValues: {
              ":open": openUntil,
              ":slow": Math.max(change.slowUntil, openUntil + (change.slowUntil - nowMs)),
            },
            ReturnValues: "ALL_NEW",
          }),
        )
        .catch((error: unknown) => {
          if (isConditionalCheckFailed(error)) return { Attributes: response.Attributes };
          throw error;
        });
      return this.rememberItem(url, opened.Attributes, nowMs);
    }
    if (change.kind === "proven_fast") {
      // Answered within the budget: the main lane dials it freely until fast_until; the first dial
      // (if this was it) is released.
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression:
            "SET fast_until = :fast, entity = :entity, expires_at = :expires REMOVE dial_until",
          ExpressionAttributeValues: {
            ":fast": change.fastUntil,
            ":entity": "endpoint_health",
            ":expires": expires,
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return this.rememberItem(url, response.Attributes, nowMs);
    }
    // Recovered: the breaker closes; slow_until set (still slow) or removed (fast again, and proven).
    const response = await this.doc
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression:
            change.slowUntil === null
              ? "SET consecutive_timeouts = :zero, fast_until = :fast, expires_at = :expires REMOVE open_until, probe_until, slow_until, dial_until"
              : "SET consecutive_timeouts = :zero, slow_until = :slow, expires_at = :expires REMOVE open_until, probe_until",
          ConditionExpression: "attribute_exists(PK)",
          ExpressionAttributeValues: {
            ":zero": 0,
            ":expires": expires,
            ...(change.slowUntil === null ? { ":fast": change.fastUntil } : { ":slow": change.slowUntil }),
          },
          ReturnValues: "ALL_NEW",
        }),
      )
      .catch((error: unknown) => {
        if (isConditionalCheckFailed(error)) return { Attributes: undefined };
        throw error;
      });
    return this.rememberItem(url, response.Attributes, nowMs);
  }

  /**
   * Claims the probe of an open breaker whose cooldown has passed: one conditional write, so among
   * all instances exactly one dials. False when another instance holds it.
   */
  async claimProbe(url: string, nowMs: number, leaseMs: number): Promise<boolean> {
    try {
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.endpointHealth(endpointHash(url)),
          UpdateExpression: "SET probe_until = :until",
          ConditionExpression:
            "attribute_exists(open_until) AND open_until <= :now AND (attribute_not_exists(probe_until) OR probe_until <= :now)",
          ExpressionAttributeValues: { ":until": nowMs + leaseMs, ":now": nowMs },
          ReturnValues: "ALL_NEW",
        }),
      );
      this.rememberItem(url, response.Attributes, nowMs);
      return true;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      this.cache.delete(url);
      return false;
    }
  }

  /**
   * Claims the first dial of an endpoint not proven fast (docs/delivery.md, "The first dial"): one
   * conditional write, so that among all instances one main-lane attempt at a time dials it. Won:
   * the state with the lease. Lost (another attempt holds it, or the endpoint was meanwhile proven
   * fast or marked slow): the state as it is now, read consistently, for the caller to decide again.
   */
  async claimFirstDial(
    url: string,
    nowMs: number,
    leaseMs: number,
  ): Promise<{ readonly won: boolean; readonly health: EndpointHealth }> {
    const key = keys.endpointHealth(endpointHash(url));
    try {
      const response = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: "SET dial_until = :until, entity = :entity, expires_at = :expires",
          ConditionExpression:
            "(attribute_not_exists(dial_until) OR dial_until <= :now) AND (attribute_not_exists(fast_until) OR fast_until <= :now) AND (attribute_not_exists(slow_until) OR slow_until <= :now) AND attribute_not_exists(open_until)",
          ExpressionAttributeValues: {
            ":until": nowMs + leaseMs,
            ":now": nowMs,
            ":entity": "endpoint_health",
            ":expires": Math.floor(nowMs / 1000) + HEALTH_TTL_SECONDS,
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return { won: true, health: this.rememberItem(url, response.Attributes, nowMs) };
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const current = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    return { won: false, health: this.rememberItem(url, current.Item, nowMs) };
  }

  private rememberItem(url: string, item: Item | undefined, nowMs: number): EndpointHealth {
    const health = healthFromItem(item);
    this.remember(url, health, nowMs);
    return health;
  }
}
