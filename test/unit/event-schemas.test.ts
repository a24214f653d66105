import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { EVENT_CATALOGUE } from "../../shared/domain/events/catalogue.ts";
import { eventTypeDocs, modelSource } from "../../shared/domain/events/event-schemas.ts";
import { FIXTURES_DIR } from "../support/fixtures.ts";

// Strict mode rejects unknown keywords and formats, so a typo in a schema fails here, not at a customer.
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);

function validate(schema: Record<string, unknown>, data: unknown): string[] {
  const check = ajv.compile(schema);
  return check(data) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message}`);
}

const samplesDir = path.join(FIXTURES_DIR, "voipbin-events");
const samples = readdirSync(samplesDir)
  .filter((file) => file.endsWith(".json"))
  .map((file) => {
    const entry = JSON.parse(readFileSync(path.join(samplesDir, file), "utf8")) as {
      DetailType: string;
      Detail: string;
    };
    return { file, type: entry.DetailType, data: (JSON.parse(entry.Detail) as { data: unknown }).data };
  });

describe("event catalogue schemas and examples (PRODUCT §12)", () => {
  it.each(EVENT_CATALOGUE.map((entry) => entry.type))(
    "%s has a schema and an example that validates",
    (type) => {
      const docs = eventTypeDocs(type);
      expect(docs).toBeDefined();
      if (docs === undefined) return;
      expect(validate(docs.schema, docs.example)).toEqual([]);
      expect(Object.keys(docs.example).length).toBeGreaterThan(0);
      if (docs.model !== "webhook") expect(modelSource(docs.model)).toMatch(/^voipbin\/monorepo bin-/);
    },
  );

  it("checks every sample event of the fixtures against its type's schema", () => {
    expect(samples.length).toBeGreaterThanOrEqual(6);
    for (const sample of samples) {
      const docs = eventTypeDocs(sample.type);
      expect(docs, sample.file).toBeDefined();
      expect({ file: sample.file, problems: validate(docs?.schema ?? {}, sample.data) }).toEqual({
        file: sample.file,
        problems: [],
      });
    }
  });

  it("schemas are not vacuous: another resource's data, a wrong enum or a missing id is refused", () => {
    const hangup = samples.find((sample) => sample.type === "call_hangup")?.data as Record<string, unknown>;
    const message = eventTypeDocs("message_created");
    const call = eventTypeDocs("call_hangup");
    if (message === undefined || call === undefined) throw new Error("catalogue lacks call or message");
    expect(validate(message.schema, hangup).length).toBeGreaterThan(0);
    expect(validate(call.schema, { ...hangup, status: "exploded" })).toEqual([
      "/status must be equal to one of the allowed values",
    ]);
    const { id: _id, ...withoutId } = hangup;
    expect(validate(call.schema, withoutId)).toEqual(["(root) must have required property 'id'"]);
  });

  it("schemas follow encoding/json on VoIPBIN's WebhookMessage (required, omitempty, enums)", () => {
    const hangup = samples.find((sample) => sample.type === "call_hangup")?.data as Record<string, unknown>;
    const call = eventTypeDocs("call_hangup");
    const queuecall = eventTypeDocs("queuecall_waiting");
    const conversationMessage = eventTypeDocs("conversation_message_created");
    if (call === undefined || queuecall === undefined || conversationMessage === undefined) {
      throw new Error("catalogue lacks call, queuecall or conversation_message");
    }
    // A non-pointer struct (`source` is an Address) is written even under omitempty: always there.
    const { source: _source, ...withoutSource } = hangup;
    expect(validate(call.schema, withoutSource)).toEqual(["(root) must have required property 'source'"]);
    // An omitempty string is absent when empty, so "" is not one of its values.
    expect(validate(call.schema, { ...hangup, hangup_reason: "" })).toEqual([
      "/hangup_reason must be equal to one of the allowed values",
    ]);
    // queuecall's projection writes `string(h.Status)`: the enum comes from queuecall.Status's constants.
    expect(queuecall.example.status).toBe("waiting");
    expect(validate(queuecall.schema, { ...queuecall.example, status: "exploded" })).toEqual([
      "/status must be equal to one of the allowed values",
    ]);
    // Values declared as untyped constants named after their type count: agent.RingMethod's.
    const agent = eventTypeDocs("agent_created");
    expect(validate(agent?.schema ?? {}, { ...agent?.example, ring_method: "bogus" })).toEqual([
      "/ring_method must be equal to one of the allowed values",
    ]);
    // Nested structs require what Go always writes in them: a message target has its status.
    const sms = samples.find((sample) => sample.type === "message_created")?.data as Record<string, unknown>;
    const message = eventTypeDocs("message_created");
    const [target] = sms.targets as Record<string, unknown>[];
    const { status: _status, ...targetWithoutStatus } = target ?? {};
    expect(validate(message?.schema ?? {}, { ...sms, targets: [targetWithoutStatus] })).toEqual([
      "/targets/0 must have required property 'status'",
    ]);
    // A field ConvertWebhookMessage never sets and that omitempty drops is never in an example.
    expect(conversationMessage.example).not.toHaveProperty("case_id");
  });

  it("each generated example shows the resource at the point its type names", () => {
    const statusOf = (type: string) => eventTypeDocs(type)?.example.status;
    expect([statusOf("call_ringing"), statusOf("call_hangup"), statusOf("queuecall_serviced")]).toEqual([
      "ringing",
      "hangup",
      "service",
    ]);
    expect([statusOf("aicall_status_initializing"), statusOf("campaign_status_stopping")]).toEqual([
      "initiating",
      "stopping",
    ]);
    const dialing = eventTypeDocs("call_dialing")?.example ?? {};
    expect(dialing).not.toHaveProperty("hangup_reason");
    expect(dialing).not.toHaveProperty("tm_hangup");
    expect(eventTypeDocs("call_deleted")?.example).toMatchObject({
      hangup_reason: "normal",
      status: "hangup",
    });
    // Created rows have no tm_update yet (the dbhandlers set it to nil): absent under omitempty, else null.
    expect(eventTypeDocs("agent_created")?.example).not.toHaveProperty("tm_update");
    expect(eventTypeDocs("conference_created")?.example.tm_update).toBeNull();
    // Ids naming another catalogue resource point at that resource's example.
    const idOf = (type: string) => eventTypeDocs(type)?.example.id;
    expect(eventTypeDocs("transcript_created")?.example.transcribe_id).toBe(idOf("transcribe_created"));
    expect(eventTypeDocs("campaigncall_created")?.example.campaign_id).toBe(idOf("campaign_created"));
    expect(eventTypeDocs("aicall_status_progressing")?.example.reference_id).toBe(idOf("call_hangup"));
    // Speech started/ended are published without text; only interim results carry it.
    expect(eventTypeDocs("transcribe_speech_started")?.example).not.toHaveProperty("message");
    expect(eventTypeDocs("transcribe_speech_interim")?.example).toHaveProperty("message");
  });

  it("types whose publisher sends another struct than the model's projection have that struct's schema", () => {
    // aimessage_intermediate publishes message.IntermediateWebhookMessage: a delta with a sequence.
    const intermediate = eventTypeDocs("aimessage_intermediate");
    expect(intermediate?.model).toBe("aimessage_intermediate");
    expect(intermediate?.schema.required).toContain("sequence");
    expect(intermediate?.example).not.toHaveProperty("tm_create");
    // chat_* carry chat.WebhookMessage, whose name/detail/type are omitempty (Chat's are not).
    expect(eventTypeDocs("chat_created")?.schema.required).not.toContain("name");
  });

  it("types of one model share its schema; types operators add have none", () => {
    expect(eventTypeDocs("call_created")?.schema).toBe(eventTypeDocs("call_hangup")?.schema);
    expect(eventTypeDocs("call_transferred")).toBeUndefined();
    expect(eventTypeDocs("__proto__")).toBeUndefined();
  });
});
