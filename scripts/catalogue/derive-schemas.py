#!/usr/bin/env python3
"""
Derives the JSON Schema of each catalogue resource's `data` from VoIPBIN's webhook projections
(the public voipbin/monorepo, `bin-*/models/*/webhook.go` WebhookMessage structs and the enum
constants beside them) and writes shared/domain/events/data-schemas.json
(one schema per model, shared by its event types, and one example per type).

Run by hand when VoIPBIN's models change (a dev tool, not part of the build):
  python3 scripts/catalogue/derive-schemas.py <voipbin/monorepo git dir> ../shared/fixtures/voipbin-events \\
    ../shared/fixtures/voipbin-event-types.json > shared/domain/events/data-schemas.json
Examples: the sample event's data where ../shared/fixtures has one, else built from the schema with
values chosen by field name (first enum value, or the status named by the type); not reviewed by
hand yet. Tests check every example against its schema.
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

def struct_schema(body, pkg_dir, imports, depth):
    props, required = {}, []
    for line in body.splitlines():
        m = FIELD.match(line)
        if m:
            _, go_type, tag = m.groups()
            name, *opts = tag.split(",")
            if name == "-" or not name: continue
            props[name] = schema_of(go_type, pkg_dir, imports, depth)
            if "omitempty" not in opts: required.append(name)
            continue
        e = EMBED.match(line)
        if e and e.group(1)[0].isupper() or (e and "." in e.group(1)):
            t = e.group(1)
            alias, name = t.split(".", 1) if "." in t else (None, t)
            target = pkg_dir_of(imports.get(alias, "")) if alias else pkg_dir
            found = target and find_struct(target, name)
            if found:
                inner = struct_schema(found[0], target, found[1], depth)
                props.update(inner["properties"]); required += inner.get("required", [])
    out = {"type": "object", "properties": props, "additionalProperties": True}
    if required: out["required"] = required
    return out

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
    "summary": ("bin-ai-manager/models/summary", "WebhookMessage"),
    "team": ("bin-ai-manager/models/team", "WebhookMessage"),
    "chat": ("bin-talk-manager/models/chat", "Chat"),
    "chatmessage": ("bin-talk-manager/models/message", "WebhookMessage"),
    "chatparticipant": ("bin-talk-manager/models/participant", "WebhookMessage"),
}

out = {}
for model, (pkg, struct) in MODELS.items():
    found = find_struct(pkg, struct)
    if not found:
        print(f"missing {pkg}.{struct}", file=sys.stderr); sys.exit(1)
    schema = struct_schema(found[0], pkg, found[1], 0)
    # Only the identity is required: VoIPBIN's projections gain and lose fields between releases
    # (the samples already lack some that the current structs always write), and a receiver built
    # from this schema must keep accepting events across those releases. Nested objects: none.
    schema["required"] = [name for name in ("id", "customer_id") if name in schema["properties"]]
    def relax(node):
        if isinstance(node, dict):
            node.pop("required", None) if node is not schema else None
            for value in node.values(): relax(value)
        elif isinstance(node, list):
            for value in node: relax(value)
    relax(schema)
    out[model] = {"source": f"voipbin/monorepo {pkg} {struct}",
                  "schema": {"$schema": "https://json-schema.org/draft/2020-12/schema",
                             "title": f"{model} (data)", **schema}}

# Which model each catalogue type carries as `data`.
TYPE_MODEL = [
    (r"call_", "call"), (r"groupcall_", "groupcall"), (r"recording_", "recording"),
    (r"conference_", "conference"), (r"queuecall_", "queuecall"), (r"agent_", "agent"),
    (r"message_", "message"), (r"activeflow_", "activeflow"), (r"transcribe_speech_", "speech"),
    (r"transcribe_", "transcribe"), (r"transcript_", "transcript"), (r"campaigncall_", "campaigncall"),
    (r"campaign_", "campaign"), (r"outdial_", "outdial"), (r"conversation_message_", "conversation_message"),
    (r"conversation_", "conversation"), (r"account_", "account"), (r"email_", "email"),
    (r"webchat_message_", "webchat_message"), (r"webchat_session_", "webchat_session"), (r"number_", "number"),
    (r"aicall_", "aicall"), (r"aimessage_", "aimessage"), (r"ai_", "ai"), (r"summary_", "summary"),
    (r"team_", "team"), (r"chatmessage_", "chatmessage"), (r"chatparticipant_", "chatparticipant"),
    (r"chat_", "chat"),
]

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

fixtures_dir = sys.argv[2]
fixtures = {}
for f in sorted(os.listdir(fixtures_dir)):
    if f.endswith(".json"):
        e = json.load(open(os.path.join(fixtures_dir, f)))
        fixtures[e["DetailType"]] = json.loads(e["Detail"])["data"]
catalogue = json.load(open(sys.argv[3]))["resources"]
types = {}
for resource, names in catalogue.items():
    for name in names:
        model = next(m for prefix, m in TYPE_MODEL if name.startswith(prefix))
        status = name.rsplit("_", 1)[-1]
        example = fixtures.get(name) or example_of(out[model]["schema"], "", model, status)
        types[name] = {"model": model, "example": example}
print(json.dumps({"models": out, "types": types}, indent=1))
