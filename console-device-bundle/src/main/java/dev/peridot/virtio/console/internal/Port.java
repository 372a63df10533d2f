package dev.peridot.virtio.console.internal;

import dev.peridot.virtio.console.OverflowPolicy;
import dev.peridot.virtio.console.PortInfo;
import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.console.internal.backend.ByteRing;
import dev.peridot.virtio.console.internal.backend.ConsoleBackend;
import dev.peridot.virtio.console.internal.backend.PortEndpoint;
import dev.peridot.virtio.queue.DescriptorChain;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One port incarnation: its buffers, backend and counters (host side, any thread), and what the
 * guest knows about it (worker side). A port that is removed and added again under the same
 * number is a new object, so the device can tell the two apart.
 *
 * <p>Fields marked "worker" are written only by the device's worker with the processing lock
 * held; they are volatile so that snapshots from other threads see them.
 */
final class Port implements PortEndpoint {

    /** Size of the recent-output tap of ports whose backend drains the output itself. */
    static final int TAP_SIZE = 16 * 1024;

    final int id;
    final int rxQueue;
    final int txQueue;
    final ByteRing toGuest;
    final ByteRing fromGuest;
    final ByteRing tap = new ByteRing(TAP_SIZE);
    private final ConsoleDevice device;
    private final String label;

    volatile PortSpec spec;
    volatile ConsoleBackend backend;
    volatile int cols;
    volatile int rows;

    // worker: what the guest knows
    volatile boolean announced;
    volatile boolean ready;
    volatile boolean refused;
    volatile boolean guestOpen;
    volatile boolean hostOpenSent;
    volatile boolean resizePending;
    DescriptorChain heldTx;
    long heldTxOffset;

    // counters
    volatile long bytesFromGuest;
    volatile long bytesToGuest;
    volatile long discardedBytes;
    final AtomicLong passedOn = new AtomicLong();
    final AtomicLong emergencyDrops = new AtomicLong();

    Port(ConsoleDevice device, PortSpec spec, ConsoleBackend backend, int cols, int rows) {
        this.device = device;
        this.id = spec.id();
        this.rxQueue = ConsoleDevice.receiveQueue(id);
        this.txQueue = ConsoleDevice.transmitQueue(id);
        this.spec = spec;
        this.backend = backend;
        this.cols = cols;
        this.rows = rows;
        this.label = device.deviceName() + "/port" + id;
        this.toGuest = new ByteRing(spec.toGuestBuffer());
        this.fromGuest = new ByteRing(spec.fromGuestBuffer());
        toGuest.setDataListener(() -> device.signalQueue(rxQueue));
        fromGuest.setSpaceListener(() -> device.signalQueue(txQueue));
    }

    boolean dropOldest() {
        return spec.overflow() == OverflowPolicy.DROP_OLDEST;
    }

    boolean hostConnected() {
        return backend.hostConnected();
    }

    boolean presentable() {
        return backend.presentable();
    }

    /** Worker: the guest forgets the port (reset, or the port left the guest). */
    void clearGuestState() {
        announced = false;
        ready = false;
        refused = false;
        guestOpen = false;
        hostOpenSent = false;
        resizePending = false;
        heldTx = null;
        heldTxOffset = 0;
    }

    // ------------------------------------------------------------------ PortEndpoint (backend threads)

    @Override
    public ByteRing toGuest() {
        return toGuest;
    }

    @Override
    public ByteRing fromGuest() {
        return fromGuest;
    }

    @Override
    public void connectionChanged() {
        device.portConnectionChanged(this);
    }

    @Override
    public void passedOn(byte[] data, int off, int len) {
        passedOn.addAndGet(len);
        tap.offerDropOldest(data, off, len);
    }

    @Override
    public String label() {
        return label;
    }

    PortInfo snapshot() {
        PortSpec s = spec;
        ConsoleBackend b = backend;
        return new PortInfo(id, s.name(), s.console(), b.type(), b.description(), b.state(), b.hostConnected(),
                guestOpen, announced, ready, bytesFromGuest, bytesToGuest, passedOn.get(), fromGuest.dropped(),
                discardedBytes, emergencyDrops.get(), fromGuest.size(), toGuest.size(), fromGuest.capacity(),
                toGuest.capacity(), s.overflow(), cols, rows);
    }

    @Override
    public String toString() {
        return "Port[" + label + ", " + backend + "]";
    }
}
