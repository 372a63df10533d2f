package dev.peridot.virtio.console.internal.backend;

import java.util.concurrent.CompletableFuture;

/**
 * The in-memory backend: guest output stays in the port's guest-to-host buffer until
 * {@code VirtioConsole.read} takes it; input comes from {@code VirtioConsole.send}. The host side
 * is always connected. No threads.
 */
public final class MemoryBackend implements ConsoleBackend {

    private volatile boolean closed;

    @Override
    public void start(PortEndpoint endpoint) {
    }

    @Override
    public String type() {
        return "memory";
    }

    @Override
    public String description() {
        return "memory";
    }

    @Override
    public String state() {
        return closed ? "closed" : "connected";
    }

    @Override
    public boolean hostConnected() {
        return !closed;
    }

    @Override
    public boolean drainsOutput() {
        return false;
    }

    @Override
    public CompletableFuture<Void> close(long flushMillis) {
        closed = true;
        return CompletableFuture.completedFuture(null);
    }
}
