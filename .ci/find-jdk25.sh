# Sourced by .ci/run and ./peridot: sets JAVA_HOME to a JDK 25, or explains and fails.
# Order: an existing JAVA_HOME that is JDK 25, then /usr/lib/jvm/*25*, then java on the PATH.

peridot_java_major() {
    "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n 1
}

peridot_find_jdk25() {
    local candidate
    for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*25* \
            "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")"; do
        if [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] \
                && [ "$(peridot_java_major "$candidate")" = "25" ]; then
            export JAVA_HOME="$candidate"
            return 0
        fi
    done
    echo "error: Peridot Virtio needs a JDK 25 (the FFM API and 'release 25'), and none was found." >&2
    echo "       Looked at JAVA_HOME (${JAVA_HOME:-unset}), /usr/lib/jvm/*25* and the java on the PATH." >&2
    echo "       Install one (for example Temurin 25) and set JAVA_HOME to it." >&2
    return 1
}
