package dev.peridot.virtio.console.internal.backend;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A TCP or Unix domain socket backend with the semantics of QEMU's socket chardev: a server
 * serves one client at a time (the next one is accepted when it leaves); a client connects and,
 * with a reconnect interval, reconnects after a failure or a lost connection.
 *
 * <p>While nobody is connected, guest output stays in the port's buffer (and the overflow
 * policy decides what happens when it is full), so a client that connects gets what the guest
 * wrote before; input from the client waits for buffer space, so a guest that does not read
 * slows the client down through TCP flow control. Nothing is dropped on the way.
 *
 * <p>Threads: one session thread (accept or connect, then read the connection), and one writer
 * thread per connection; both are virtual threads.
 */
public final class SocketBackend implements ConsoleBackend {

    private static final System.Logger LOG = System.getLogger(SocketBackend.class.getName());

    private final String type;
    private final boolean server;
    private final boolean wait;
    private final long reconnectMillis;
    private final SocketAddress address;
    private final Path unixPath;
    private final ServerSocketChannel serverChannel;
    private final String description;
    private volatile PortEndpoint endpoint;
    private volatile SocketChannel connection;
    private volatile String state;
    private volatile boolean everConnected;
    private volatile boolean closing;
    private volatile long flushDeadline;
    private volatile long connections;
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();

    private SocketBackend(String type, boolean server, boolean wait, long reconnectMillis, SocketAddress address,
                          Path unixPath) {
        this.type = type;
        this.server = server;
        this.wait = server && wait;
        this.reconnectMillis = reconnectMillis;
        this.unixPath = unixPath;
        if (server) {
            try {
                if (unixPath != null) {
                    Files.deleteIfExists(unixPath); // A stale socket file from an earlier run.
                    serverChannel = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
                } else {
                    serverChannel = ServerSocketChannel.open();
                }
                serverChannel.bind(address);
                this.address = serverChannel.getLocalAddress();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot listen on " + address + ": " + e.getMessage(), e);
            }
        } else {
            serverChannel = null;
            this.address = address;
        }
        this.description = type + (server ? " server " : " client ") + format(this.address)
                + (this.wait ? " (wait)" : "") + (!server && reconnectMillis > 0 ? " (reconnect " + reconnectMillis + " ms)" : "");
        this.state = server ? "listening" : "connecting";
    }

    /** A TCP server or client; a server binds at once (port 0 = ephemeral, see {@link #localPort()}). */
    public static SocketBackend tcp(String host, int port, boolean server, boolean wait, long reconnectMillis) {
        return new SocketBackend("tcp", server, wait, reconnectMillis, new InetSocketAddress(host, port), null);
    }

    /** A Unix domain socket server or client at {@code path}. */
    public static SocketBackend unix(String path, boolean server, boolean wait, long reconnectMillis) {
        Path p = Path.of(path);
        return new SocketBackend("unix", server, wait, reconnectMillis, UnixDomainSocketAddress.of(p), p);
    }

    private static String format(SocketAddress a) {
        if (a instanceof InetSocketAddress inet) {
            return inet.getHostString() + ":" + inet.getPort();
        }
        if (a instanceof UnixDomainSocketAddress unix) {
            return unix.getPath().toString();
        }
        return String.valueOf(a);
    }

    /** The TCP port the server listens on (or the client connects to); -1 for Unix sockets. */
    public int localPort() {
        return address instanceof InetSocketAddress inet ? inet.getPort() : -1;
    }

    /** How many connections were made so far. */
    public long connections() {
        return connections;
    }

    @Override
    public void start(PortEndpoint ep) {
        this.endpoint = ep;
        Thread.ofVirtual().name(ep.label() + "-" + type).start(() -> {
            try {
                session();
            } finally {
                stopped.complete(null);
            }
        });
    }

    private void session() {
        while (!closing) {
            SocketChannel channel;
            try {
                if (server) {
                    state = "listening";
                    channel = serverChannel.accept();
                } else {
                    state = "connecting";
                    channel = unixPath != null ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
                    try {
                        channel.connect(address);
                    } catch (IOException e) {
                        channel.close();
                        throw e;
                    }
                }
            } catch (IOException e) {
                if (closing) {
                    break;
                }
                state = "error: " + e.getMessage();
                if (server || reconnectMillis == 0) {
                    LOG.log(System.Logger.Level.WARNING, endpoint.label() + ": " + description + ": " + e.getMessage());
                    if (server) {
                        sleep(100); // accept failed (for example too many files): do not spin
                        continue;
                    }
                    return;
                }
                sleep(reconnectMillis);
                continue;
            }
            serve(channel);
            if (!server) {
                if (reconnectMillis == 0 || closing) {
                    break;
                }
                sleep(reconnectMillis);
            }
        }
        if (!state.startsWith("error")) {
            state = closing ? "closed" : "disconnected";
        }
    }

    private void serve(SocketChannel channel) {
        String peer;
        try {
            peer = format(channel.getRemoteAddress());
        } catch (IOException e) {
            peer = "?";
        }
        connection = channel;
        everConnected = true;
        connections++;
        state = "connected " + peer;
        PortEndpoint ep = endpoint;
        ep.connectionChanged();
        AtomicBoolean alive = new AtomicBoolean(true);
        Thread writer = Thread.ofVirtual().name(ep.label() + "-" + type + "-out").start(() -> {
            try {
                Pumps.output(ep, channel, () -> alive.get() && (!closing || (ep.fromGuest().size() > 0
                        && System.nanoTime() - flushDeadline < 0)));
            } catch (IOException | InterruptedException e) {
                // Connection lost: the reader sees the closed channel.
            } finally {
                closeQuietly(channel);
            }
        });
        try {
            Pumps.input(ep, channel, () -> alive.get() && !closing);
        } catch (IOException | InterruptedException e) {
            // The peer left or the writer closed the channel.
        } finally {
            // The writer may still be flushing (closing): it closes the channel itself.
            if (!closing) {
                alive.set(false);
                closeQuietly(channel);
            }
            try {
                writer.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            alive.set(false);
            closeQuietly(channel);
            connection = null;
            state = closing ? "closed" : "disconnected";
            ep.connectionChanged();
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            // Nothing to do.
        }
    }

    private void sleep(long millis) {
        try {
            TimeUnit.MILLISECONDS.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closing = true;
        }
    }

    @Override
    public String type() {
        return type;
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public String state() {
        return state;
    }

    @Override
    public boolean hostConnected() {
        return connection != null;
    }

    @Override
    public boolean presentable() {
        return !wait || everConnected;
    }

    @Override
    public CompletableFuture<Void> close(long flushMillis) {
        flushDeadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(flushMillis);
        closing = true;
        if (serverChannel != null) {
            try {
                serverChannel.close();
            } catch (IOException e) {
                // Nothing to do.
            }
            if (unixPath != null) {
                try {
                    Files.deleteIfExists(unixPath);
                } catch (IOException e) {
                    // Nothing to do.
                }
            }
        }
        SocketChannel c = connection;
        PortEndpoint ep = endpoint;
        if (c == null) {
            state = "closed";
        } else if (ep != null && ep.fromGuest().size() == 0) {
            closeQuietly(c);
        } else {
            // The writer flushes until the buffer is empty or the deadline passes, then closes; a
            // client that stopped reading cannot hold the connection open beyond the deadline.
            Thread.ofVirtual().start(() -> {
                sleep(flushMillis);
                closeQuietly(c);
            });
        }
        if (ep != null) {
            ep.fromGuest().wakeAll();
            ep.toGuest().wakeAll();
        } else {
            stopped.complete(null); // Never started.
        }
        return stopped;
    }

    @Override
    public String toString() {
        return description + " [" + state + "]";
    }
}
