#!/bin/sh
# The layer's zip (a Python module under python/, as Lambda layers lay it out) and the function's package that imports
# it, made in the working directory before terraform runs.
set -eu
mkdir -p layer/python
cat > layer/python/tf_layer_mod.py <<'PY'
import os
def greet(name):
    return "hello " + name + " " + os.environ["SUFFIX"]
PY
(cd layer && zip -q -r ../tf-layer.zip python)
cat > app.py <<'PY'
import tf_layer_mod
def handler(event, context):
    return {"greeting": tf_layer_mod.greet(event.get("name")), "function": context.function_name}
PY
zip -q tf-layered.zip app.py
