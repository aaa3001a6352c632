#!/bin/sh
# lambda.tf's deployment package, made in the working directory before terraform runs.
set -eu
cat > app.py <<'PY'
def handler(event, context):
    return {"function": context.function_name, "version": context.function_version}
PY
zip -q lambda-longtail.zip app.py
