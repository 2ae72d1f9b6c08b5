"""Validates WebSocket messages against the AsyncAPI document's payload schemas (jsonschema).

Usage: python asyncapi_check.py ASYNCAPI_JSON MESSAGES_JSONL
Each line of MESSAGES_JSONL is one message as the server sent it; its `type` picks the message of
`components.messages`. Prints one line per problem and exits 1 when there is any.
"""

import json
import sys

import jsonschema

doc = json.load(open(sys.argv[1]))
messages = doc["components"]["messages"]
subscribed = {
    ref["$ref"].rsplit("/", 1)[1]
    for ref in doc["channels"]["/ws/connect"]["subscribe"]["message"]["oneOf"]
}
problems = []
count = 0
for line in open(sys.argv[2]):
    if not line.strip():
        continue
    message = json.loads(line)
    count += 1
    kind = message.get("type")
    if kind not in messages or kind not in subscribed:
        problems.append(f"{kind}: not in the document")
        continue
    # The payload's $refs point into the document's components.
    schema = dict(messages[kind]["payload"], components=doc["components"])
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    for error in validator.iter_errors(message):
        path = "/".join(str(p) for p in error.absolute_path)
        problems.append(f"{kind}: {path}: {error.message}")

for p in problems:
    print(p)
print(f"{count} messages checked, {len(problems)} problems")
sys.exit(1 if problems or count == 0 else 0)
