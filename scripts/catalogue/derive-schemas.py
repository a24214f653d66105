#!/usr/bin/env python3
"""
Derives the JSON Schema of each catalogue resource's `data` from VoIPBIN's webhook projections
(the public voipbin/monorepo, `bin-*/models/*/webhook.go` WebhookMessage structs and the enum
constants beside them) and writes shared/domain/events/data-schemas.json
(one schema per model, shared by its event types, and one example per type).

Run by hand when VoIPBIN's models change (a dev tool, not part of the build):
  python3 scripts/catalogue/derive-schemas.py <voipbin/monorepo git dir> ../shared/fixtures/voipbin-events \\
    ../shared/fixtures/voipbin-event-types.json > shared/domain/events/data-schemas.json \\
    && npx biome format --write shared/domain/events/data-schemas.json
Schemas say what Go's encoding/json writes (required = always written; omitempty fields never null
or ""), widened where a sample holds a value the tags rule out. Examples: the sample event's data
where ../shared/fixtures has one, else one realistic resource per model at the point its type
names (status, timestamps reached, fields gained later), reviewed by hand against the Go source on
2026-12-07 (docs/api.md "Catalogue review"). Tests check every example and sample against its schema.
"""
import json, re, subprocess, sys

REPO = sys.argv[1]

def git(*args):
    return subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True, check=True).stdout

FILES = git("ls-tree", "-r", "--name-only", "HEAD").splitlines()

def package_files(pkg_dir):
    return [f for f in FILES if f.startswith(pkg_dir + "/") and f.count("/") == pkg_dir.count("/") + 1
            and f.endswith(".go") and not f.endswith("_test.go") and "mock" not in f]

_cache = {}
def package_source(pkg_dir):
    if pkg_dir not in _cache:
        _cache[pkg_dir] = {f: git("show", f"HEAD:{f}") for f in package_files(pkg_dir)}
    return _cache[pkg_dir]

def imports_of(src):
    out = {}
    block = re.search(r"import \((.*?)\)", src, re.S)
    lines = block.group(1).splitlines() if block else re.findall(r'^import (.*)$', src, re.M)
    for line in lines:
        m = re.match(r'\s*(\w+)?\s*"([^"]+)"', line)
        if not m: continue
        alias, path = m.group(1), m.group(2)
        out[alias or path.split("/")[-1]] = path
    return out

def find_struct(pkg_dir, name):
    for f, src in package_source(pkg_dir).items():
        m = re.search(r"^type " + re.escape(name) + r" struct \{", src, re.M)
        if not m: continue
        i, depth = m.end(), 1
        while depth:
            depth += {"{": 1, "}": -1}.get(src[i], 0); i += 1
        return src[m.end():i - 1], imports_of(src)
    return None

def find_named(pkg_dir, name):
    """(underlying kind, enum values) of `type name <builtin>` in the package, or None."""
    values, kind = [], None
    for src in package_source(pkg_dir).values():
        m = re.search(r"^type " + re.escape(name) + r"\s+(\w+)\s*$", src, re.M)
        if m: kind = m.group(1)
        values += re.findall(r"^\s*\w+\s+" + re.escape(name) + r'\s*=\s*"([^"]*)"', src, re.M)
    if kind and not values:
        # Some packages list a type's values as untyped constants named after it
        # (`RingMethodRingAll = "ringall"` under `type RingMethod string`): Go's naming convention.
        for src in package_source(pkg_dir).values():
            values += re.findall(r"^\s*" + re.escape(name) + r'[A-Z]\w*\s*=\s*"([^"]*)"', src, re.M)
    return (kind, values) if kind else None

def pkg_dir_of(path):
    return path[len("monorepo/"):] if path.startswith("monorepo/") else None

SCALARS = {"string": {"type": "string"}, "bool": {"type": "boolean"}, "float32": {"type": "number"},
           "float64": {"type": "number"}}

def schema_of(go_type, pkg_dir, imports, depth):
    if go_type.startswith("*"):
        inner = schema_of(go_type[1:], pkg_dir, imports, depth)
        return {**inner, "type": [inner["type"], "null"]} if isinstance(inner.get("type"), str) else inner
    if go_type.startswith("[]"):
        return {"type": "array", "items": schema_of(go_type[2:], pkg_dir, imports, depth)}
    if go_type.startswith("map["): return {"type": "object"}
    if go_type in ("uuid.UUID",): return {"type": "string", "format": "uuid"}
    if go_type == "time.Time": return {"type": "string", "format": "date-time"}
    if go_type in SCALARS: return dict(SCALARS[go_type])
    if re.fullmatch(r"u?int(8|16|32|64)?", go_type): return {"type": "integer"}
    if go_type in ("interface{}", "any", "json.RawMessage"): return {}
    if "." in go_type:
        alias, name = go_type.split(".", 1)
        target = pkg_dir_of(imports.get(alias, ""))
        if target is None: return {}
    else:
        target, name = pkg_dir, go_type
    named = find_named(target, name)
    if named:
        kind, values = named
        base = schema_of(kind, target, {}, depth)
        if values and base.get("type") == "string": base["enum"] = sorted(set(values))
        return base
    if depth < 3:
        found = find_struct(target, name)
        if found: return struct_schema(found[0], target, found[1], depth + 1)
    return {"type": "object"}

FIELD = re.compile(r"^\s*(\w+)\s+([\w\.\*\[\]\{\}]+(?:\[[^\]]*\][\w\.\*\{\}]+)?)\s+`[^`]*json:\"([^\"]*)\"")
EMBED = re.compile(r"^\s*\*?([\w]+(?:\.\w+)?)\s*(//.*)?$")

def struct_schema(body, pkg_dir, imports, depth, meta=None):
    """Schema of a Go struct as encoding/json writes it. `meta` (top level only) collects, per json
    name, the Go field, its type, whether it is omitempty and which embedded struct it came from."""
    props, required = {}, []
    for line in body.splitlines():
        m = FIELD.match(line)
        if m:
            go_name, go_type, tag = m.groups()
            name, *opts = tag.split(",")
            if name == "-" or not name: continue
            omitempty = "omitempty" in opts
            prop = schema_of(go_type, pkg_dir, imports, depth)
            # encoding/json omits a nil pointer and an empty string under omitempty: such a field is
            # absent, never null and never "".
            if omitempty and go_type.startswith("*") and isinstance(prop.get("type"), list):
                prop["type"] = [t for t in prop["type"] if t != "null"][0]
            # Without omitempty a nil slice or map is written as null.
            if not omitempty and go_type.startswith(("[]", "map[")) and isinstance(prop.get("type"), str):
                prop["type"] = [prop["type"], "null"]
            if omitempty and "" in prop.get("enum", []):
                prop["enum"] = [v for v in prop["enum"] if v != ""]
            props[name] = prop
            if meta is not None:
                meta[name] = {"go_name": go_name, "go_type": go_type, "omitempty": omitempty, "embed": None}
            if always_written({"omitempty": omitempty, "go_type": go_type}, prop): required.append(name)
            continue
        e = EMBED.match(line)
        if e and e.group(1)[0].isupper() or (e and "." in e.group(1)):
            t = e.group(1)
            alias, name = t.split(".", 1) if "." in t else (None, t)
            target = pkg_dir_of(imports.get(alias, "")) if alias else pkg_dir
            found = target and find_struct(target, name)
            if found:
                inner_meta = {} if meta is not None else None
                inner = struct_schema(found[0], target, found[1], depth, inner_meta)
                props.update(inner["properties"]); required += inner.get("required", [])
                if meta is not None:
                    for k, v in inner_meta.items(): meta[k] = {**v, "embed": name}
    out = {"type": "object", "properties": props, "additionalProperties": True}
    if required: out["required"] = required
    return out

def always_written(info, prop):
    """encoding/json writes a field whatever its value unless it is omitempty and can be empty:
    omitempty has no effect on arrays (uuid.UUID is [16]byte) nor on non-pointer structs."""
    if not info["omitempty"]: return True
    go_type = info["go_type"]
    return go_type == "uuid.UUID" or (not go_type.startswith(("*", "[]", "map[")) and "properties" in prop)

def converter(pkg_dir, struct):
    """(receiver struct, set of WebhookMessage fields it assigns, {field: receiver field converted by
    string(h.X)}) from ConvertWebhookMessage, or None when the package has none."""
    for src in package_source(pkg_dir).values():
        m = re.search(r"^func \(\w+ \*(\w+)\) ConvertWebhookMessage\(\) \(?\*" + re.escape(struct) + r"\b.*?^}", src, re.M | re.S)
        if not m: continue
        body = m.group(0)
        assigned = set(re.findall(r"^\s*(\w+):", body, re.M))
        conversions = dict(re.findall(r"^\s*(\w+):\s*string\(\w+\.(\w+)\)", body, re.M))
        return m.group(1), assigned, conversions
    return None

# model name -> (package dir, struct); one schema per model, shared by its event types.
MODELS = {
    "call": ("bin-call-manager/models/call", "WebhookMessage"),
    "groupcall": ("bin-call-manager/models/groupcall", "WebhookMessage"),
    "recording": ("bin-call-manager/models/recording", "WebhookMessage"),
    "conference": ("bin-conference-manager/models/conference", "WebhookMessage"),
    "queuecall": ("bin-queue-manager/models/queuecall", "WebhookMessage"),
    "agent": ("bin-agent-manager/models/agent", "WebhookMessage"),
    "message": ("bin-message-manager/models/message", "WebhookMessage"),
    "activeflow": ("bin-flow-manager/models/activeflow", "WebhookMessage"),
    "transcribe": ("bin-transcribe-manager/models/transcribe", "WebhookMessage"),
    "transcript": ("bin-transcribe-manager/models/transcript", "WebhookMessage"),
    "speech": ("bin-transcribe-manager/models/streaming", "WebhookMessage"),
    "campaign": ("bin-campaign-manager/models/campaign", "WebhookMessage"),
    "campaigncall": ("bin-campaign-manager/models/campaigncall", "WebhookMessage"),
    "outdial": ("bin-outdial-manager/models/outdial", "WebhookMessage"),
    "conversation": ("bin-conversation-manager/models/conversation", "WebhookMessage"),
    "conversation_message": ("bin-conversation-manager/models/message", "WebhookMessage"),
    "account": ("bin-conversation-manager/models/account", "WebhookMessage"),
    "email": ("bin-email-manager/models/email", "WebhookMessage"),
    "webchat_message": ("bin-webchat-manager/models/message", "WebhookMessage"),
    "webchat_session": ("bin-webchat-manager/models/session", "WebhookMessage"),
    "number": ("bin-number-manager/models/number", "WebhookMessage"),
    "ai": ("bin-ai-manager/models/ai", "WebhookMessage"),
    "aicall": ("bin-ai-manager/models/aicall", "WebhookMessage"),
    "aimessage": ("bin-ai-manager/models/message", "WebhookMessage"),
    # aimessage_intermediate publishes its own struct (pkg/messagehandler/event.go), not the message's.
    "aimessage_intermediate": ("bin-ai-manager/models/message", "IntermediateWebhookMessage"),
    "summary": ("bin-ai-manager/models/summary", "WebhookMessage"),
    "team": ("bin-ai-manager/models/team", "WebhookMessage"),
    "chat": ("bin-talk-manager/models/chat", "WebhookMessage"),
    "chatmessage": ("bin-talk-manager/models/message", "WebhookMessage"),
    "chatparticipant": ("bin-talk-manager/models/participant", "WebhookMessage"),
}

# Which model each catalogue type carries as `data`.
TYPE_MODEL = [
    (r"call_", "call"), (r"groupcall_", "groupcall"), (r"recording_", "recording"),
    (r"conference_", "conference"), (r"queuecall_", "queuecall"), (r"agent_", "agent"),
    (r"message_", "message"), (r"activeflow_", "activeflow"), (r"transcribe_speech_", "speech"),
    (r"transcribe_", "transcribe"), (r"transcript_", "transcript"), (r"campaigncall_", "campaigncall"),
    (r"campaign_", "campaign"), (r"outdial_", "outdial"), (r"conversation_message_", "conversation_message"),
    (r"conversation_", "conversation"), (r"account_", "account"), (r"email_", "email"),
    (r"webchat_message_", "webchat_message"), (r"webchat_session_", "webchat_session"), (r"number_", "number"),
    (r"aicall_", "aicall"), (r"aimessage_intermediate", "aimessage_intermediate"), (r"aimessage_", "aimessage"), (r"ai_", "ai"), (r"summary_", "summary"),
    (r"team_", "team"), (r"chatmessage_", "chatmessage"), (r"chatparticipant_", "chatparticipant"),
    (r"chat_", "chat"),
]

import os
fixtures_dir = sys.argv[2]
fixtures = {}
for f in sorted(os.listdir(fixtures_dir)):
    if f.endswith(".json"):
        e = json.load(open(os.path.join(fixtures_dir, f)))
        fixtures[e["DetailType"]] = json.loads(e["Detail"])["data"]
catalogue = json.load(open(sys.argv[3]))["resources"]
def model_of(name): return next(m for prefix, m in TYPE_MODEL if name.startswith(prefix))
fixtures_of = {}
for name, data in fixtures.items(): fixtures_of.setdefault(model_of(name), []).append(data)

def admit(schema, value):
    """Widens the schema where a sample VoIPBIN sent holds null or "" that the Go tags rule out
    (older releases wrote them): the samples are what VoIPBIN really sends and must validate."""
    if not isinstance(schema, dict): return
    if value is None and isinstance(schema.get("type"), str) and schema["type"] != "null":
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema: schema["enum"] = schema["enum"] + [None]
    elif value == "" and "enum" in schema and "" not in schema["enum"]:
        schema["enum"] = [""] + schema["enum"]
    elif isinstance(value, dict):
        for k, v in value.items(): admit(schema.get("properties", {}).get(k), v)
    elif isinstance(value, list):
        for v in value: admit(schema.get("items"), v)

COMMIT = git("rev-parse", "HEAD").strip()
# What a customer should know about a field that the Go source shows and its name does not.
NOTES = {"ai": {"engine_key": "The AI engine's API key as the customer set it: the projection copies it "
                              "(ConvertWebhookMessage), so ai_* events carry it when one is set. Treat it as a secret."}}
out, metas = {}, {}
for model, (pkg, struct) in MODELS.items():
    found = find_struct(pkg, struct)
    if not found:
        print(f"missing {pkg}.{struct}", file=sys.stderr); sys.exit(1)
    meta = {}
    schema = struct_schema(found[0], pkg, found[1], 0, meta)
    conv = converter(pkg, struct)
    if conv:
        receiver, assigned, conversions = conv
        recv = find_struct(pkg, receiver)
        recv_types = {}
        for line in (recv[0] if recv else "").splitlines():
            fm = FIELD.match(line)
            if fm: recv_types[fm.group(1)] = fm.group(2)
        for name, info in meta.items():
            info["set"] = (info["embed"] or info["go_name"]) in assigned
            # `Status: string(h.Status)`: the projection's plain string carries the model's enum.
            source = conversions.get(info["go_name"])
            if source and source in recv_types and schema["properties"][name].get("type") == "string":
                enum = schema_of(recv_types[source], pkg, recv[1], 0).get("enum")
                if enum:
                    schema["properties"][name]["enum"] = [v for v in enum if v or not info["omitempty"]]
    else:
        for info in meta.values(): info["set"] = True
    for name, info in meta.items():
        if not info["set"]:
            schema["properties"][name]["description"] = (
                f"Not set by {pkg}.{conv[0]}.ConvertWebhookMessage at {COMMIT[:12]}: always "
                + ("absent." if not always_written(info, schema["properties"][name]) else "its zero value."))
    for name, note in NOTES.get(model, {}).items():
        schema["properties"][name]["description"] = note
    # Required: every field encoding/json always writes (not omitempty, a uuid.UUID or a struct),
    # except those a sample lacks (an older release did not write it). Nested objects stay open.
    samples = fixtures_of.get(model, [])
    schema["required"] = [name for name, info in meta.items()
                          if always_written(info, schema["properties"][name])
                          and all(name in sample for sample in samples)]
    # Nested structs (addresses, actions, message targets) require what Go always writes in them
    # too, less what a sample's nested object lacks.
    def prune(node, value):
        if not isinstance(node, dict): return
        if isinstance(value, dict):
            if node is not schema and "required" in node:
                node["required"] = [name for name in node["required"] if name in value]
                if not node["required"]: del node["required"]
            for k, v in value.items(): prune(node.get("properties", {}).get(k), v)
        elif isinstance(value, list):
            for v in value: prune(node.get("items"), v)
    for sample in samples:
        prune(schema, sample)
        admit(schema, sample)
    metas[model] = meta
    out[model] = {"source": f"voipbin/monorepo {pkg} {struct} (commit {COMMIT[:12]})",
                  "schema": {"$schema": "https://json-schema.org/draft/2020-12/schema",
                             "title": f"{model} (data)", **schema}}

import hashlib, os
CUSTOMER = "5e4a0680-804e-11ec-8477-2fea5968d85b"
NIL = "00000000-0000-0000-0000-000000000000"
def uid(*parts):
    h = hashlib.sha1("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"

STRINGS = {"target": "+15551234567", "text": "Hi, this is a reminder of your appointment tomorrow at 10:00.",
           "message": "I'd like to change my delivery address, please.", "content": "Thanks, that solves it.",
           "subject": "Your order has shipped", "language": "en-US", "number": "+15557654321",
           "username": "alice@example.com", "name": "Support line", "detail": "Handles first-line support calls",
           "url": "https://example.com/files/rec.wav", "uri": "https://example.com/webhook",
           "direct_hash": "a8f3c2", "role": "assistant", "provider": "gcp", "country": "US"}

def example_of(schema, field, model, status, depth=0):
    t = schema.get("type")
    if isinstance(t, list):
        if field == "tm_delete" or field == "tm_end": return None
        return example_of({**schema, "type": t[0]}, field, model, status, depth)
    if "enum" in schema:
        values = schema["enum"]
        if field == "status" and status in values: return status
        non_empty = [v for v in values if v]
        return non_empty[0] if non_empty else values[0]
    if t == "string":
        fmt = schema.get("format")
        if fmt == "uuid":
            if field == "customer_id": return CUSTOMER
            if field in ("owner_id", "master_call_id", "next_campaign_id"): return NIL
            return uid(model, field)
        if fmt == "date-time": return "2026-11-20T09:15:02.118Z" if field != "tm_delete" else "9999-01-01T00:00:00Z"
        for key, value in STRINGS.items():
            if field == key or field.endswith("_" + key): return value
        return ""
    if t == "integer": return 1 if field.endswith("count") or field.endswith("index") else 0
    if t == "number": return 0
    if t == "boolean": return False
    if t == "array":
        items = schema.get("items", {})
        if items.get("type") == "object" and items.get("properties") and depth < 2:
            return [example_of(items, field, model, status, depth + 1)]
        if items.get("format") == "uuid": return [uid(model, field, "0")]
        return []
    if t == "object":
        props = schema.get("properties")
        if not props: return {}
        return {k: example_of(v, k, model, status, depth + 1) for k, v in props.items() if v}
    return None

# Examples: the sample's data where ../shared/fixtures has one; else what the Go projection writes
# for a realistic resource at that point of its life: the status the type names, the timestamps
# reached by then, and encoding/json's omitempty applied (an empty omitempty field is absent).
DAY = "2026-11-20T"
TIMES = {"tm_create": "09:15:02.118437", "tm_joined": "09:15:02.118437", "tm_purchase": "09:15:02.118437",
         "tm_ringing": "09:15:03.640122", "tm_progressing": "09:15:09.012877", "tm_start": "09:15:09.420551",
         "tm_service": "09:15:58.210734", "tm_event": "09:16:21.304519", "tm_transcript": "09:16:21.304519",
         "tm_last_activity": "09:17:40.225019", "tm_end": "09:17:44.930116", "tm_hangup": "09:17:45.488201",
         "tm_update": "09:17:45.502913", "tm_delete": "09:20:00.731205"}
# A timestamp is written once the resource reached it: which type suffixes have.
REACHED = {"tm_ringing": {"ringing", "progressing", "terminating", "updated", "hangup", "deleted"},
           "tm_progressing": {"progressing", "terminating", "updated", "hangup", "deleted"},
           "tm_hangup": {"hangup", "deleted"}, "tm_service": {"serviced", "done", "deleted"},
           "tm_start": {"started", "finished"},
           "tm_end": {"finished", "done", "ended", "deleted", "terminated", "status_terminated"},
           "tm_delete": {"deleted"}}
# Types published right after the row is created: the managers' dbhandler *Create functions set
# TMUpdate = nil (call.go, agent.go, ...; 50 of them), except bin-talk-manager's, which set it to now.
CREATION = {"created", "status_initializing"}
UPDATE_ON_CREATE = {"chat", "chatmessage"}
# The status of a type whose suffix is not itself a status value.
STATUS = {"call_created": "dialing", "call_updated": "progressing", "call_deleted": "hangup",
          "groupcall_created": "progressing", "groupcall_deleted": "hangup",
          "recording_started": "recording", "recording_finished": "ended",
          "conference_created": "progressing", "conference_updated": "progressing", "conference_deleted": "terminated",
          "queuecall_created": "initiating", "queuecall_serviced": "service", "queuecall_deleted": "done",
          "agent_created": "offline", "agent_updated": "available", "agent_deleted": "offline",
          "activeflow_created": "running", "activeflow_updated": "running", "activeflow_deleted": "ended",
          "transcribe_created": "progressing",
          "campaign_created": "stop", "campaign_updated": "stop", "campaign_deleted": "stop",
          "campaign_status_run": "run", "campaign_status_stopping": "stopping", "campaign_status_stop": "stop",
          "campaigncall_created": "dialing", "campaigncall_updated": "progressing", "campaigncall_deleted": "done",
          "conversation_message_created": "done", "conversation_message_updated": "done",
          "conversation_message_deleted": "done",
          "email_created": "initiated", "email_updated": "delivered", "email_deleted": "delivered",
          "webchat_message_created": "sent", "webchat_message_updated": "delivered", "webchat_message_deleted": "delivered",
          "webchat_session_created": "active", "webchat_session_updated": "active", "webchat_session_deleted": "ended",
          "number_created": "active", "number_updated": "active", "number_deleted": "deleted",
          # aicall_status_<x> events carry the aicall in status <x>; "initializing" is the event's
          # name (bin-ai-manager/models/aicall/event.go) for the status "initiating".
          "aicall_status_initializing": "initiating", "aicall_status_progressing": "progressing",
          "aicall_status_pausing": "pausing", "aicall_status_resuming": "resuming",
          "aicall_status_terminating": "terminating", "aicall_status_terminated": "terminated",
          "webchat_session_ended": "ended",
          "summary_created": "progressing", "summary_updated": "done", "summary_deleted": "done"}
TEL = lambda n: {"type": "tel", "target": n}
# Realistic values by model (what a customer's resource holds); other fields by name below.
VALUES = {
    "call": {"type": "flow", "source": TEL("+15551234567"), "destination": TEL("+15559876543"),
             "direction": "outgoing", "hangup_by": "remote", "hangup_reason": "normal", "chained_call_ids": [], "recording_ids": [],
             "action": {"id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "next_id": NIL, "type": "talk"}},
    "groupcall": {"source": TEL("+15551234567"),
                  "destinations": [{"type": "agent", "target": "f0e1d2c3-b4a5-4968-8776-655443322110"},
                                   TEL("+15559876543")],
                  "call_ids": ["2b6d1e0f-7c3a-4f58-9e21-4d0c8b7a6e53", "9e4f2a1c-3b7d-4c86-a015-6f8e2d9c1b40"],
                  "answer_call_id": "2b6d1e0f-7c3a-4f58-9e21-4d0c8b7a6e53",
                  "ring_method": "ring_all", "answer_method": "hangup_others", "call_count": 2, "dial_index": 0,
                  "master_groupcall_id": NIL, "answer_groupcall_id": NIL, "groupcall_ids": [], "groupcall_count": 0},
    "recording": {"reference_type": "call", "format": "wav", "on_end_flow_id": NIL},
    "conference": {"type": "conference", "name": "Weekly sales sync", "detail": "Team call, Mondays 10:00",
                   "timeout": 3600, "pre_flow_id": NIL, "post_flow_id": NIL, "direct_hash": "",
                   "recording_id": NIL, "recording_ids": [], "transcribe_id": NIL, "transcribe_ids": []},
    "queuecall": {"reference_type": "call", "duration_waiting": 48210, "duration_service": 131870},
    "agent": {"username": "alice@example.com", "name": "Alice Kim", "detail": "Tier-1 support",
              "ring_method": "ringall", "permission": 1, "addresses": [TEL("+15557654321")], "direct_hash": ""},
    "message": {"type": "sms", "source": TEL("+15557654321"),
                "targets": [{"destination": TEL("+15551234567"), "status": "sent", "parts": 1,
                             "tm_update": DAY + "09:15:02.530114Z"}],
                "text": "Your verification code is 482913.", "direction": "outbound"},
    "activeflow": {"reference_type": "call", "reference_activeflow_id": NIL, "on_complete_flow_id": NIL,
                   "webhook_uri": "", "webhook_method": "",
                   "current_action": {"id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "next_id": NIL, "type": "talk",
                                      "option": {"text": "Hello, thanks for calling Example Inc.", "language": "en-US"},
                                      "tm_execute": DAY + "09:15:09.012877Z"},
                   "forward_action_id": NIL, "executed_actions": []},
    "transcribe": {"reference_type": "call", "language": "en-US", "direction": "both", "provider": "gcp",
                   "on_end_flow_id": NIL},
    "transcript": {"direction": "in", "message": "Hi, I'd like to change my delivery address, please."},
    "speech": {"direction": "in", "message": "Hi, I'd like to change my delivery"},
    "campaign": {"type": "call", "name": "December renewals", "detail": "Renewal reminder calls",
                 "service_level": 100, "end_handle": "stop", "actions": [], "next_campaign_id": NIL},
    "campaigncall": {"reference_type": "call", "result": "success", "source": TEL("+15557654321"),
                     "destination": TEL("+15551234567"), "destination_index": 0, "try_count": 1},
    "outdial": {"name": "December renewals list", "detail": "Customers due for renewal", "data": ""},
    "conversation": {"name": "+15551234567", "detail": "SMS conversation", "type": "message",
                     "dialog_id": "", "self": TEL("+15557654321"), "peer": TEL("+15551234567")},
    "conversation_message": {"direction": "incoming", "reference_type": "message",
                             "source": TEL("+15551234567"), "destination": TEL("+15557654321"),
                             "text": "Can I move my appointment to Friday?", "medias": [], "case_id": None},
    "account": {"type": "line", "name": "Support LINE account", "detail": "LINE official account",
                "provider_data": None},
    "email": {"source": {"type": "email", "target": "support@example.com", "target_name": "Example Support"},
              "destinations": [{"type": "email", "target": "alice@example.com"}],
              "subject": "Your order has shipped",
              "content": "Hi Alice, your order #10492 has shipped and should arrive on Friday.",
              "attachments": []},
    "webchat_message": {"direction": "inbound", "text": "Hi, do you ship to Canada?",
                        "widget_id": "d3f1b6a2-8c4e-4f7a-9b21-5e6d7c8a9b0f"},
    # Peer is the visitor's session, Local the widget (bin-webchat-manager pkg/sessionhandler create.go).
    "webchat_session": {"page_url": "https://www.example.com/pricing", "referrer": "https://www.google.com/",
                        "widget_id": "d3f1b6a2-8c4e-4f7a-9b21-5e6d7c8a9b0f",
                        "peer": {"type": "web_session", "target": "f184fe78-1345-459c-89a5-76e04eaffb04"},
                        "local": {"type": "webchat", "target": "d3f1b6a2-8c4e-4f7a-9b21-5e6d7c8a9b0f"}},
    "number": {"number": "+15557654321", "type": "normal", "name": "Main support line",
               "detail": "Routed to the support flow", "t38_enabled": False, "emergency_enabled": False,
               "tm_renew": DAY[:5] + "12-20T09:15:02.118437Z"},
    "ai": {"name": "Support assistant", "detail": "Answers first-line support calls", "type": "normal",
           "engine_model": "gemini.gemini-2.5-flash", "engine_key": "",
           "init_prompt": "You are a friendly support agent for Example Inc. Keep answers short.",
           "tts_type": "google", "tts_voice_id": "en-US-Chirp3-HD-Achernar", "stt_type": "google",
           "stt_language": "en-US", "tool_names": ["connect_call", "send_email"], "direct_hash": "",
           "vad_config": None, "rag_id": NIL},
    "aicall": {"assistance_type": "ai", "ai_engine_model": "gemini.gemini-2.5-flash", "ai_tts_type": "google",
               "ai_tts_voice_id": "en-US-Chirp3-HD-Achernar", "ai_stt_type": "google",
               "reference_type": "call", "stt_language": "en-US", "ai_vad_config": None},
    "aimessage": {"role": "assistant", "direction": "outgoing",
                  "content": "I can help with that. Which day would suit you better?", "tool_calls": [],
                  "tool_call_id": ""},
    # A delta of a reply being streamed (not the text so far), ordered by sequence; the publisher
    # writes role assistant and direction incoming.
    "aimessage_intermediate": {"role": "assistant", "direction": "incoming", "content": " Which day would",
                               "sequence": 3},
    "summary": {"reference_type": "call", "language": "en-US", "on_end_flow_id": NIL,
                "content": "The caller asked to move a delivery to Friday; the agent rescheduled it."},
    "team": {"name": "Support team", "detail": "Triage assistant handing over to specialists",
             "members": [], "direct_hash": ""},
    "chat": {"type": "group", "name": "Support escalations", "detail": "Agents handling escalated tickets",
             "member_count": 3},
    "chatmessage": {"type": "normal", "owner_type": "agent", "owner_id": "f0e1d2c3-b4a5-4968-8776-655443322110",
                    "metadata": {"reactions": []}, "text": "Taking this one, I'll call the customer back.", "medias": [],
                    "parent_id": None},
    "chatparticipant": {"owner_type": "agent", "owner_id": "f0e1d2c3-b4a5-4968-8776-655443322110"},
}
# Fields a resource gains later in its life: written (else their zero value) only for these suffixes.
LATER = {"hangup_by": {"hangup", "deleted"}, "hangup_reason": {"hangup", "deleted"},
         "answer_call_id": {"hangup", "deleted"}, "service_agent_id": {"connecting", "serviced", "done", "deleted"},
         "duration_waiting": {"serviced", "done", "abandoned", "deleted"}, "duration_service": {"done", "deleted"},
         "result": {"deleted"}}
# Per type, where the resource at that point differs from the model's values (or the sample's).
DELIVERED = [{"destination": TEL("+15559876543"), "status": "delivered", "parts": 1,
              "tm_update": DAY + "09:17:45.502913Z"}]
TYPE_VALUES = {"message_updated": {"targets": DELIVERED}, "message_deleted": {"targets": DELIVERED},
               # Only interim results carry text: started/ended are published with NewSpeech("", now)
               # (bin-transcribe-manager pkg/streaminghandler/result.go), and omitempty drops it.
               "transcribe_speech_started": {"message": ""}, "transcribe_speech_ended": {"message": ""},
               "chatmessage_reaction_updated": {"metadata": {"reactions": [
                   {"emoji": "\U0001F44D", "owner_type": "agent", "owner_id": "0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f",
                    "tm_create": DAY + "09:17:45.502913Z"}]}}}
ZERO_IDS = {"owner_id", "master_call_id", "next_campaign_id", "groupcall_id", "parent_id"}

def zero_of(prop):
    t = prop.get("type")
    t = t[0] if isinstance(t, list) else t
    if prop.get("format") == "uuid": return NIL
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}.get(t)

def is_zero(value):
    return value in ("", 0, False, None) or value == [] or value == {}

# Ids that name another catalogue resource point at that resource's example (its sample's id where
# it has one), so the examples read as one customer's account: the queuecall's call is call_*'s call.
LINKS = {"reference_id": {"recording": "call", "transcribe": "call", "aicall": "call", "summary": "call",
                          "campaigncall": "call", "activeflow": "call", "conversation_message": "message"},
         "activeflow_id": "activeflow", "transcribe_id": "transcribe", "campaign_id": "campaign",
         "outdial_id": "outdial", "aicall_id": "aicall", "conversation_id": "conversation",
         "account_id": "account", "session_id": "webchat_session", "chat_id": "chat",
         "recording_id": None, "active_ai_id": "ai", "assistance_id": "ai"}

def id_of(model):
    sample = fixtures_of.get(model)
    return sample[0]["id"] if sample else uid(model, "id")

def linked_id(field, model):
    target = LINKS.get(field)
    if isinstance(target, dict): target = target.get(model)
    return id_of(target) if target and target != model else None

def example_for(name, model):
    schema, meta = out[model]["schema"], metas[model]
    prefix = next(p for p, m in TYPE_MODEL if name.startswith(p))
    suffix = name[len(prefix):]
    props = schema["properties"]
    status = STATUS.get(name, suffix)
    # A model with a sample: the other types show the same resource (its ids, numbers, names).
    base = fixtures_of.get(model, [{}])[0]
    data = {}
    for field, prop in props.items():
        info = meta[field]
        if field in TYPE_VALUES.get(name, {}): value = TYPE_VALUES[name][field]
        elif field in base and field != "status" and not field.startswith("tm_"): value = base[field]
        elif field in VALUES[model]: value = VALUES[model][field]
        elif linked_id(field, model): value = linked_id(field, model)
        elif field == "owner_type": value = ""
        elif field in ZERO_IDS and not (field == "owner_id" and VALUES[model].get("owner_type")): value = NIL if prop.get("format") == "uuid" else None
        elif field == "status":
            enum = prop.get("enum", [])
            if enum and status not in enum:
                raise SystemExit(f"{name}: status {status!r} is not one of {enum}")
            value = status
        elif field == "tm_update" and suffix in CREATION:
            value = DAY + TIMES["tm_create"] + "Z" if model in UPDATE_ON_CREATE else None
        elif field.startswith("tm_"):
            value = DAY + TIMES[field] + "Z" if field in TIMES and (field not in REACHED or suffix in REACHED[field]) else None
        else: value = example_of(prop, field, model, status)
        if field in LATER and suffix not in LATER[field]: value = zero_of(prop)
        if not info["set"]: value = None if info["go_type"].startswith("*") else zero_of(prop)
        if info["omitempty"] and not always_written(info, prop) and is_zero(value): continue
        data[field] = value
    return data

types = {}
for resource, names in catalogue.items():
    for name in names:
        model = model_of(name)
        types[name] = {"model": model, "example": fixtures.get(name) or example_for(name, model)}
print(json.dumps({"models": out, "types": types}, indent=1))
