#!/bin/sh
# The function's deployment package, made in the working directory before terraform runs.
set -eu
cat > app.py <<'PY'
import os
def handler(event, context):
    return {"greeting": os.environ["GREETING"], "name": event.get("name"), "function": context.function_name}
PY
zip -q function.zip app.py
