package dev.peridot.virtio.console.internal.backend;

import dev.peridot.virtio.console.BackendSpec;

/** Creates the backend a {@link BackendSpec} describes. */
public final class Backends {

    private Backends() {
    }

    /**
     * A new, not yet started backend. A server socket is bound here, so a bad address fails at once.
     *
     * @throws java.io.UncheckedIOException if a socket cannot be bound or a file cannot be opened
     */
    public static ConsoleBackend create(BackendSpec spec) {
        return switch (spec) {
            case BackendSpec.Memory m -> new MemoryBackend();
            case BackendSpec.Tcp t -> SocketBackend.tcp(t.host(), t.port(), t.server(), t.waitForClient(), t.reconnectMillis());
            case BackendSpec.Unix u -> SocketBackend.unix(u.path(), u.server(), u.waitForClient(), u.reconnectMillis());
            case BackendSpec.File f -> ChannelBackend.file(f.outputPath(), f.inputPath(), f.append());
            case BackendSpec.Stdio s -> ChannelBackend.stdio(s.input());
        };
    }
}
