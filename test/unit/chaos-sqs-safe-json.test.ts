import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDeliveryJob, serializeDeliveryJob } from "#shared/domain/delivery/job.ts";
import { sqsSafeJson } from "#shared/domain/json.ts";

/** What SQS (and, stricter, some emulators: no characters beyond the BMP) accepts in a body. */
const SQS_BODY = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD]*$/;

describe("sqsSafeJson (found by the chaos fuzz stage)", () => {
  it("escapes U+FFFE, U+FFFF and astral characters, which SQS or its emulator refuse in a message body", () => {
    const value = { text: "sms \uFFFF \uFFFE 👩‍👩‍👧 𝔘 \u0000 \ud800 ok" };
    const text = sqsSafeJson(value);
    expect(text).toMatch(SQS_BODY);
    expect(text).toContain("\\uffff");
    expect(text).toContain("\\ud83d\\udc69");
    expect(JSON.parse(text)).toEqual(value);
  });

  it("parses back to the same value as JSON.stringify for any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: "binary" }), (value, text) => {
        const input = { value, text: `${text}\uFFFF` };
        const safe = sqsSafeJson(input);
        expect(safe).toMatch(SQS_BODY);
        expect(JSON.parse(safe)).toEqual(JSON.parse(JSON.stringify(input)));
      }),
    );
  });

  it("keeps delivery jobs intact, payload bytes included", () => {
    const job = {
      v: 1 as const,
      delivery_id: "8f9a62fb-cca2-83f8-bdbb-ca096c03ab95",
      webhook_id: "msg_0123456789abcdef0123456789abcdef",
      subscription_id: "90ecd94e-3a1b-44b8-8445-baa0ed393251",
      customer_id: "5e4a0680-804e-11ec-8477-2fea5968d85b",
      event_id: "57f9efb2-3f6e-476e-84a0-d8f451032bb8",
      event_type: "message_created",
      payload: '{"type":"message_created","data":{"text":"hi 😀 \uFFFF"}}',
    };
    const body = serializeDeliveryJob(job);
    expect(body).toMatch(SQS_BODY);
    expect(parseDeliveryJob(body)).toEqual(job);
  });
});
