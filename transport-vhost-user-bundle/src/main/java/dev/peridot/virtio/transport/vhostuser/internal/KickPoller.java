package dev.peridot.virtio.transport.vhostuser.internal;

import dev.peridot.virtio.device.RunOperations;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The kick thread of one connection: waits in {@code poll} on every ring's kick eventfd plus an
 * internal wake eventfd, and turns a kick into {@link RunOperations#notifyQueue} (an available
 * buffer notification, spec 2.9) — but only for a ring the device is running. A kick on a
 * ring that is not running (QEMU hands over the kick eventfd already signalled, before the ring
 * is enabled) is remembered in {@link Vring#kickPending}; the device scans a ring when it
 * starts, so nothing is lost.
 *
 * <p>Descriptor changes: the connection thread swaps {@link Vring#kickFd} and hands the old
 * descriptor to {@link #retire}; this thread closes it only after {@code poll} has returned and
 * before it polls the new set, so it never polls a closed (possibly reused) descriptor number.
 *
 * <p>The steady-state loop allocates nothing: the pollfd array and the read buffer are
 * allocated once.
 */
public final class KickPoller implements Runnable {

    private static final System.Logger LOG = System.getLogger(KickPoller.class.getName());

    private final Vring[] rings;
    private final RunOperations device;
    private final int wakeFd;
    private final Thread thread;
    private final ConcurrentLinkedQueue<Integer> retired = new ConcurrentLinkedQueue<>();
    private final Arena wakeArena = Arena.ofShared();
    private final MemorySegment one = wakeArena.allocate(ValueLayout.JAVA_LONG);
    private volatile boolean stopping;
    private volatile long kicksForwarded;
    private volatile long kicksDeferred;

    public KickPoller(String name, Vring[] rings, RunOperations device) throws IOException {
        this.rings = rings;
        this.device = device;
        this.wakeFd = Native.eventFd();
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
        this.thread = new Thread(this, name);
        this.thread.setDaemon(true);
    }

    public void start() {
        thread.start();
    }

    /** Makes the thread re-read the kick descriptors. */
    public void update() {
        Native.signalEventFd(wakeFd, one);
    }

    /** Hands over a kick descriptor that is no longer used; the kick thread closes it. */
    public void retire(int fd) {
        if (fd >= 0) {
            retired.add(fd);
            update();
        }
    }

    /** Stops the thread, waits for it, and closes the retired descriptors and the wake eventfd. */
    public void stop() {
        stopping = true;
        update();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.log(System.Logger.Level.ERROR, thread.getName() + " did not stop; its descriptors stay open");
            return;
        }
        closeRetired();
        Native.closeQuietly(wakeFd);
        wakeArena.close();
    }

    public long kicksForwarded() {
        return kicksForwarded;
    }

    public long kicksDeferred() {
        return kicksDeferred;
    }

    private void closeRetired() {
        Integer fd;
        while ((fd = retired.poll()) != null) {
            Native.closeQuietly(fd);
        }
    }

    @Override
    public void run() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pollFds = arena.allocate((rings.length + 1L) * Native.POLLFD_SIZE, 4);
            MemorySegment scratch = arena.allocate(ValueLayout.JAVA_LONG);
            int[] ringOfEntry = new int[rings.length + 1];
            while (!stopping) {
                closeRetired();
                int entries = 0;
                Native.setPollFd(pollFds, entries++, wakeFd);
                for (Vring ring : rings) {
                    int fd = ring.kickFd;
                    if (fd >= 0) {
                        ringOfEntry[entries] = ring.index;
                        Native.setPollFd(pollFds, entries++, fd);
                    }
                }
                int ready = Native.poll(pollFds, entries, -1);
                if (ready <= 0) {
                    continue;
                }
                if (Native.polledEvents(pollFds, 0) != 0) {
                    Native.drainEventFd(wakeFd, scratch);
                }
                for (int i = 1; i < entries; i++) {
                    short events = Native.polledEvents(pollFds, i);
                    if ((events & Native.POLLIN) != 0) {
                        // Read the descriptor that was polled: the ring may have a new one by now.
                        Native.drainEventFd(pollFds.get(ValueLayout.JAVA_INT, i * Native.POLLFD_SIZE), scratch);
                        Vring ring = rings[ringOfEntry[i]];
                        if (ring.running) {
                            kicksForwarded++;
                            device.notifyQueue(ring.index);
                        } else {
                            kicksDeferred++;
                            ring.kickPending = true;
                        }
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            if (!stopping) {
                LOG.log(System.Logger.Level.ERROR, thread.getName() + ": kick polling failed; kicks are no longer seen", e);
            }
        }
    }
}
