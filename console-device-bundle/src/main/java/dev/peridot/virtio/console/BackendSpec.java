package dev.peridot.virtio.console;

import java.util.Objects;

/**
 * Where a port's data goes on the host side. Every backend has bounded buffers in both
 * directions (owned by the port, see {@link PortSpec}) and runs its I/O on its own threads; the
 * device's worker never waits for it.
 */
public sealed interface BackendSpec {

    /** The backend type as written in a configuration: memory, tcp, unix, file or stdio. */
    String type();

    /** The in-memory backend (the default): guest output stays in the port's buffer until {@link VirtioConsole#read} takes it; input comes from {@link VirtioConsole#send}. */
    record Memory() implements BackendSpec {
        @Override
        public String type() {
            return "memory";
        }
    }

    /**
     * A TCP socket with the semantics of QEMU's socket chardev. As a server it listens on
     * {@code host:port} (port 0 = an ephemeral port, shown in the backend description) and serves
     * one client at a time; as a client it connects to {@code host:port}.
     *
     * @param waitForClient   server only: the port is not presented to the guest (no PORT_ADD, or
     *                        for port 0 the device is not registered) until the first client has
     *                        connected, like QEMU's {@code wait=on} which holds the VM until then
     * @param reconnectMillis client only: retry interval after a failed or lost connection;
     *                        0 = do not reconnect
     */
    record Tcp(String host, int port, boolean server, boolean waitForClient, long reconnectMillis) implements BackendSpec {
        public Tcp {
            Objects.requireNonNull(host, "host");
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("TCP port must be 0..65535: " + port);
            }
            if (!server && port == 0) {
                throw new IllegalArgumentException("a TCP client needs a port");
            }
            if (reconnectMillis < 0) {
                throw new IllegalArgumentException("reconnect interval must be >= 0");
            }
        }

        /** A server on 127.0.0.1 that does not wait for a client. */
        public static Tcp server(int port) {
            return new Tcp("127.0.0.1", port, true, false, 0);
        }

        /** A client of 127.0.0.1:port. */
        public static Tcp client(int port, long reconnectMillis) {
            return new Tcp("127.0.0.1", port, false, false, reconnectMillis);
        }

        @Override
        public String type() {
            return "tcp";
        }
    }

    /** A Unix domain socket at {@code path}, server or client, with the same options as {@link Tcp}. */
    record Unix(String path, boolean server, boolean waitForClient, long reconnectMillis) implements BackendSpec {
        public Unix {
            Objects.requireNonNull(path, "path");
            if (path.isBlank()) {
                throw new IllegalArgumentException("a Unix socket backend needs a path");
            }
            if (reconnectMillis < 0) {
                throw new IllegalArgumentException("reconnect interval must be >= 0");
            }
        }

        @Override
        public String type() {
            return "unix";
        }
    }

    /**
     * Files: guest output is written to {@code outputPath} (truncated at start unless
     * {@code append}); if {@code inputPath} is not empty its content is sent to the guest once.
     */
    record File(String outputPath, String inputPath, boolean append) implements BackendSpec {
        public File {
            Objects.requireNonNull(outputPath, "outputPath");
            if (outputPath.isBlank()) {
                throw new IllegalArgumentException("a file backend needs an output path");
            }
            inputPath = inputPath == null ? "" : inputPath;
        }

        @Override
        public String type() {
            return "file";
        }
    }

    /**
     * The JVM's standard output (guest output) and, if {@code input}, standard input (off by
     * default: in the runtime the shell owns standard input).
     */
    record Stdio(boolean input) implements BackendSpec {
        @Override
        public String type() {
            return "stdio";
        }
    }

    /** The default backend. */
    static BackendSpec memory() {
        return new Memory();
    }
}
