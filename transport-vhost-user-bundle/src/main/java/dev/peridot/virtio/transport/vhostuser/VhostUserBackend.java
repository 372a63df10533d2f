package dev.peridot.virtio.transport.vhostuser;

import dev.peridot.virtio.device.DeviceTransport;
import dev.peridot.virtio.device.NotifyDriver;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.memory.GuestMemory;
import dev.peridot.virtio.transport.vhostuser.internal.MessageChannel;
import dev.peridot.virtio.transport.vhostuser.internal.Native;
import dev.peridot.virtio.transport.vhostuser.internal.ProtocolException;
import dev.peridot.virtio.transport.vhostuser.internal.Session;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A vhost-user back-end for one device: listens on a Unix socket, serves one front-end
 * connection at a time (QEMU's {@code -chardev socket,path=...} with a {@code vhost-user-*}
 * device), and accepts the next connection when one ends — however it ends: the front-end
 * disconnected or was killed mid-I/O, or broke the protocol (then the connection is closed
 * with a log line saying why).
 *
 * <p>The device is attached to this transport for the back-end's whole life; a connection that
 * ends resets it (status 0) and unmaps the guest memory after the device has let go of it.
 * Nothing about the device is torn down until {@link #close()}.
 *
 * <p>Threads: one accept/connection thread ({@code vhost-user-<device>}) and, per connection, a
 * kick thread; the device's own worker sends used buffer notifications.
 */
public final class VhostUserBackend implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(VhostUserBackend.class.getName());

    /** The reserved features this transport carries: not RING_RESET, not NOTIFICATION_DATA (vhost-user has neither). */
    public static final FeatureSet SUPPORTED_FEATURES = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1,
            ReservedFeature.VIRTIO_F_INDIRECT_DESC, ReservedFeature.VIRTIO_F_EVENT_IDX);

    private final Path socketPath;
    private final VhostUserDevice device;
    private final int listenFd;
    private final int stopFd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment one = arena.allocate(ValueLayout.JAVA_LONG);
    private final Thread thread;
    private final Transport transport = new Transport();
    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong protocolErrors = new AtomicLong();
    private volatile String lastDisconnect;
    private volatile boolean closing;

    private VhostUserBackend(Path socketPath, VhostUserDevice device, int listenFd, int stopFd) {
        this.socketPath = socketPath;
        this.device = device;
        this.listenFd = listenFd;
        this.stopFd = stopFd;
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
        this.thread = new Thread(this::acceptLoop, "vhost-user-" + device.name());
        this.thread.setDaemon(true);
    }

    /**
     * Listens on {@code socketPath} and attaches the device. A stale socket file left by an
     * earlier run is replaced; a socket someone still listens on is not.
     *
     * @throws IOException if the socket cannot be created
     * @throws IllegalStateException if the device is already attached to a transport
     */
    public static VhostUserBackend start(Path socketPath, VhostUserDevice device) throws IOException {
        Objects.requireNonNull(socketPath, "socketPath");
        Objects.requireNonNull(device, "device");
        Path path = socketPath.toAbsolutePath();
        removeStaleSocket(path);
        int listenFd = Native.listenUnix(path.toString());
        int stopFd;
        try {
            stopFd = Native.eventFd();
        } catch (IOException e) {
            Native.closeQuietly(listenFd);
            throw e;
        }
        VhostUserBackend backend = new VhostUserBackend(path, device, listenFd, stopFd);
        try {
            device.lifeCycle().attach(backend.transport);
        } catch (RuntimeException e) {
            backend.releaseSocket();
            throw e;
        }
        backend.thread.start();
        LOG.log(System.Logger.Level.INFO, device.name() + ": vhost-user back-end listening on " + path);
        return backend;
    }

    private static void removeStaleSocket(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS) || Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(path + " exists and is not a socket");
        }
        int probe;
        try {
            probe = Native.connectUnix(path.toString());
        } catch (IOException refused) {
            Files.deleteIfExists(path); // Nobody listens: left over from an earlier run.
            return;
        }
        Native.closeQuietly(probe);
        throw new IOException(path + " is in use: another back-end listens on it");
    }

    /** The socket's path. */
    public Path socketPath() {
        return socketPath;
    }

    /** The device this back-end serves. */
    public VhostUserDevice device() {
        return device;
    }

    /** Whether a front-end is connected now. */
    public boolean isConnected() {
        return transport.session != null;
    }

    /** Connections accepted so far. */
    public long connectionsAccepted() {
        return connections.get();
    }

    /** Connections closed because the front-end broke the protocol. */
    public long protocolErrors() {
        return protocolErrors.get();
    }

    /** Why the last connection ended, if one has. */
    public Optional<String> lastDisconnectReason() {
        return Optional.ofNullable(lastDisconnect);
    }

    private void acceptLoop() {
        try (Arena pollArena = Arena.ofConfined()) {
            MemorySegment pollFds = pollArena.allocate(2 * Native.POLLFD_SIZE, 4);
            while (!closing) {
                Native.setPollFd(pollFds, 0, listenFd);
                Native.setPollFd(pollFds, 1, stopFd);
                if (Native.poll(pollFds, 2, -1) <= 0) {
                    continue;
                }
                if (Native.polledEvents(pollFds, 1) != 0) {
                    break;
                }
                if (Native.polledEvents(pollFds, 0) == 0) {
                    continue;
                }
                int fd;
                try {
                    fd = Native.accept(listenFd);
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.WARNING, device.name() + ": accept failed: " + e.getMessage());
                    continue;
                }
                serve(fd);
            }
        } catch (IOException | RuntimeException e) {
            if (!closing) {
                LOG.log(System.Logger.Level.ERROR, device.name() + ": the vhost-user back-end stopped accepting", e);
            }
        }
    }

    /** Serves one connection to its end; whatever happens, the device is reset and everything is released. */
    private void serve(int fd) {
        long n = connections.incrementAndGet();
        MessageChannel channel = new MessageChannel(fd, stopFd);
        Session session;
        try {
            session = new Session(device.name(), channel, device.config(), device.run());
        } catch (IOException | RuntimeException e) {
            channel.close();
            LOG.log(System.Logger.Level.ERROR, device.name() + ": cannot serve connection " + n, e);
            return;
        }
        LOG.log(System.Logger.Level.INFO, device.name() + ": front-end connected (connection " + n + ")");
        transport.session = session;
        String reason;
        try {
            session.serve();
            reason = "served to its end";
        } catch (MessageChannel.ClosedException e) {
            reason = e.getMessage();
            LOG.log(System.Logger.Level.INFO, device.name() + ": connection " + n + " ended: " + reason);
        } catch (ProtocolException e) {
            protocolErrors.incrementAndGet();
            reason = "protocol error: " + e.getMessage();
            LOG.log(System.Logger.Level.WARNING, device.name() + ": closing connection " + n
                    + " because the front-end broke the vhost-user protocol: " + e.getMessage());
        } catch (IOException e) {
            reason = "I/O error: " + e.getMessage();
            LOG.log(System.Logger.Level.WARNING, device.name() + ": connection " + n + " failed: " + e.getMessage());
        } catch (InternalError e) {
            // The JVM reports SIGBUS on a mapped file as an InternalError. MemoryTable refuses regions beyond their
            // file, so this means the front-end shrank its memory file afterwards: its fault, not ours.
            protocolErrors.incrementAndGet();
            reason = "protocol error: the front-end's memory faulted (" + e.getMessage() + ")";
            LOG.log(System.Logger.Level.WARNING, device.name() + ": closing connection " + n
                    + " because its guest memory faulted; did the front-end shrink its memory file?");
        } catch (RuntimeException e) {
            reason = "internal error: " + e;
            LOG.log(System.Logger.Level.ERROR, device.name() + ": connection " + n + " failed", e);
        }
        String summary = session.describe();
        session.close();
        transport.session = null;
        lastDisconnect = reason;
        LOG.log(System.Logger.Level.DEBUG, () -> device.name() + ": connection " + n + ": " + summary);
    }

    /**
     * Stops listening, ends the connection (the device is reset), waits for the threads, detaches
     * the device and removes the socket file.
     */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        Native.signalEventFd(stopFd, one);
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.log(System.Logger.Level.ERROR, device.name() + ": the connection thread did not stop within 10 s");
        }
        try {
            device.lifeCycle().detach();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, device.name() + ": detach failed", e);
        }
        if (!thread.isAlive()) {
            releaseSocket();
        }
        LOG.log(System.Logger.Level.INFO, device.name() + ": vhost-user back-end on " + socketPath + " closed");
    }

    private void releaseSocket() {
        Native.closeQuietly(listenFd);
        Native.closeQuietly(stopFd);
        arena.close();
        try {
            Files.deleteIfExists(socketPath);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot remove " + socketPath + ": " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "VhostUserBackend[" + device.name() + " on " + socketPath + (isConnected() ? ", connected" : "") + "]";
    }

    /**
     * What the device sees of this transport: the current connection's guest memory and call
     * eventfds. Between connections there is no memory (a queue cannot be enabled) and
     * notifications go nowhere.
     */
    private final class Transport implements DeviceTransport, NotifyDriver {

        volatile Session session;

        @Override
        public String name() {
            return "vhost-user";
        }

        @Override
        public GuestMemory guestMemory() {
            Session s = session;
            return s == null ? null : s.guestMemory();
        }

        @Override
        public NotifyDriver notifyDriver() {
            return this;
        }

        @Override
        public FeatureSet supportedFeatures() {
            return SUPPORTED_FEATURES;
        }

        /** vhost-user front-ends stop and restart rings of a live device (GET_VRING_BASE, SET_VRING_*). */
        @Override
        public boolean allowsQueueSetupWhileLive() {
            return true;
        }

        @Override
        public void usedBuffer(int queue) {
            Session s = session;
            if (s != null) {
                s.usedBuffer(queue);
            }
        }

        @Override
        public void configurationChanged() {
            Session s = session;
            if (s != null) {
                s.configurationChanged();
            }
        }
    }
}
