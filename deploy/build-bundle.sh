#!/usr/bin/env bash
# Builds the self-contained node bundle for GPU hosts without Java: a jlink'd Java 25 runtime, the
# jars (the CLI's runtime class path plus the GPU tests and their runner), the kernels (inside the
# gpu jar), launchers, and the transformers comparison script. Output: target/kvasir-bundle.tar.xz
#   deploy/build-bundle.sh [--no-build]
# On the GPU host:  tar xJf kvasir-bundle.tar.xz && kvasir-bundle/bin/gpu-tests SHARED_DIR
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
OUT="$ROOT/target/bundle"
B="$OUT/kvasir-bundle"

if [[ "${1:-}" != "--no-build" ]]; then
  (cd "$ROOT" && mvn -o -q -B install -DskipTests)
fi
[[ -f "$ROOT/gpu/target/classes/dev/kvasir/gpu/kernels/kernels.fatbin" ]] || { echo "build-bundle: the gpu module was built without nvcc: no kernels to ship" >&2; exit 1; }

rm -rf "$OUT"; mkdir -p "$B/lib" "$B/bin" "$B/python" "$B/conf"
cp "$ROOT/deploy/conf/logback-gpu.xml" "$B/conf/"
# 1. runtime: Temurin links from its own image (no jmods needed)
"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.sql,java.xml,java.net.http,java.instrument,jdk.unsupported,jdk.incubator.vector,jdk.crypto.ec,jdk.management,jdk.jfr \
  --strip-debug --no-header-files --no-man-pages --compress=zip-0 --output "$B/runtime"

# 2. jars: the CLI's class path, the gpu test class path, the module jars
copy_cp() { tr ':' '\n' < "$1" | while read -r j; do [[ -n "$j" && -f "$j" ]] && cp -n "$j" "$B/lib/"; done; }
copy_cp "$ROOT/cluster/target/classpath.txt"
copy_cp "$ROOT/gpu/target/test-classpath.txt"
for m in model gpu actors sharding cluster; do cp "$ROOT/$m/target/kvasir-$m-"*.jar "$B/lib/" 2>/dev/null || true; done
rm -f "$B/lib/"*-sources.jar
# JCuda's native jar carries the PTX compiler and NVRTC bindings (24 MB) the driver API never loads
natives="$(ls "$B/lib/"jcuda-natives-*.jar)"
tmp="$(mktemp -d)"; (cd "$tmp" && unzip -q "$natives" && rm -f lib/libJNvPTXCompiler* lib/libJNvrtc* && rm "$natives" && zip -q -r "$natives" .); rm -rf "$tmp"

# jars stored uncompressed: xz then compresses the classes across jars (the bundle shrinks by a third)
python3 - "$B/lib" <<'PY'
import os, sys, zipfile
for name in os.listdir(sys.argv[1]):
    if not name.endswith(".jar"): continue
    path = os.path.join(sys.argv[1], name)
    with zipfile.ZipFile(path) as z:
        entries = [(i, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_STORED) as out:
        for info, data in entries:
            info.compress_type = zipfile.ZIP_STORED
            out.writestr(info, data)
    os.replace(path + ".tmp", path)
PY

# 3. launchers
cat > "$B/bin/kvasir" <<'SH'
#!/usr/bin/env bash
# Kvasir CLI from the bundle: bin/kvasir generate --backend gpu --model F --prompt TEXT ...
H="$(cd "$(dirname "$0")/.." && pwd)"
exec "$H/runtime/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m -XX:+UseParallelGC \
  ${KVASIR_JAVA_OPTS:-} -Dkvasir.home="$H" -cp "$H/lib/*" dev.kvasir.cluster.cli.KvasirCli "$@"
SH
cat > "$B/bin/gpu-tests" <<'SH'
#!/usr/bin/env bash
# Runs the GPU-tagged tests: bin/gpu-tests SHARED_DIR [TEST_CLASS...] (SHARED_DIR holds models/ and
# reference/; simple class names run only those classes).
H="$(cd "$(dirname "$0")/.." && pwd)"
exec "$H/runtime/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m \
  -Dlogback.configurationFile="$H/conf/logback-gpu.xml" -Dkvasir.shared="${1:?shared data folder}" -cp "$H/lib/*" dev.kvasir.gpu.GpuTestMain "${@:2}"
SH
cat > "$B/bin/gpu-bench" <<'SH'
#!/usr/bin/env bash
# GPU measurements: bin/gpu-bench bandwidth | logits MODEL OUTDIR [...] | decode MODEL [...]
H="$(cd "$(dirname "$0")/.." && pwd)"
exec "$H/runtime/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m -Xmx8g \
  ${KVASIR_JAVA_OPTS:-} -Dlogback.configurationFile="$H/conf/logback-gpu.xml" -cp "$H/lib/*" dev.kvasir.gpu.tools.GpuBench "$@"
SH
chmod +x "$B/bin/"*
cp "$ROOT"/deploy/*.py "$B/python/"
cp "$ROOT/deploy/device-check.sh" "$B/bin/" 2>/dev/null || true

(cd "$OUT" && tar cf - kvasir-bundle | xz -T2 -9 > kvasir-bundle.tar.xz)
ls -la "$OUT/kvasir-bundle.tar.xz"
