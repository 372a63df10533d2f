package dev.peridot.virtio.console.internal.backend;

import java.util.concurrent.CompletableFuture;

/**
 * The host side of a port. A backend runs its I/O on its own threads; every method here returns
 * at once. The port owns the bounded buffers: replacing a backend loses nothing that is buffered.
 */
public interface ConsoleBackend {

    /** Starts I/O for {@code endpoint}. Called once. */
    void start(PortEndpoint endpoint);

    /** memory, tcp, unix, file or stdio. */
    String type();

    /** Where it is, for example {@code tcp server 127.0.0.1:40321}. */
    String description();

    /** listening, connected ..., disconnected, connecting, error: ..., closed. */
    String state();

    /** Whether the host side is connected (PORT_OPEN value for the guest). */
    boolean hostConnected();

    /** Whether the port may be presented to the guest (false until the first client for a server with wait). */
    default boolean presentable() {
        return true;
    }

    /** Whether the backend drains the guest-to-host buffer itself (false: {@code VirtioConsole.read} does). */
    default boolean drainsOutput() {
        return true;
    }

    /**
     * Stops: the backend keeps passing on what is buffered from the guest for at most
     * {@code flushMillis} (if connected), then closes its channels. Does not wait.
     *
     * @return completes once the backend no longer takes bytes from the guest-to-host buffer (so
     *         another backend may start consuming it)
     */
    CompletableFuture<Void> close(long flushMillis);
}
