package dev.peridot.virtio.console.internal;

import dev.peridot.virtio.console.ConsoleConstants;
import dev.peridot.virtio.console.ConsoleFeature;
import dev.peridot.virtio.console.OverflowPolicy;
import dev.peridot.virtio.console.PortInfo;
import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.console.ResizeOrder;
import dev.peridot.virtio.console.VirtioConsole;
import dev.peridot.virtio.console.internal.backend.Backends;
import dev.peridot.virtio.console.internal.backend.ConsoleBackend;
import dev.peridot.virtio.defaults.DefaultConfigOperations;
import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.device.VirtioDevice;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.queue.DescriptorChain;
import dev.peridot.virtio.queue.VirtqueueAccess;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * The virtio console device (spec 5.3, device ID 3) with VIRTIO_CONSOLE_F_SIZE,
 * VIRTIO_CONSOLE_F_MULTIPORT, VIRTIO_CONSOLE_F_EMERG_WRITE and port hot-plug.
 *
 * <h2>Queues (spec 5.3.2)</h2>
 * 0/1 are port 0's receiveq/transmitq; with MULTIPORT offered the device has
 * 2 * (max_nr_ports + 1) queues: 2/3 control receiveq/transmitq, 2n+2/2n+3 port n's. Queues 2
 * and up exist only with MULTIPORT: QueueNumMax reads 0 for them when it is not offered or, after
 * FEATURES_OK, not negotiated (CON-03, HD-43).
 *
 * <h2>Configuration space (spec 5.3.4)</h2>
 * le16 cols @0, le16 rows @2, le32 max_nr_ports @4, le32 emerg_wr @8. Fields of features that
 * are not offered read 0 (CFG-07, HD-48); emerg_wr always reads 0. A write of any width at
 * offset 8 is an emergency write of its low byte when EMERG_WRITE is offered, at any device
 * status (CON-09..CON-11, HD-44); it never changes the generation nor raises an interrupt
 * (OPER-05). Every other write is ignored.
 *
 * <h2>Emergency write</h2>
 * The byte goes into port 0's guest-to-host buffer without waiting (the vCPU thread only takes
 * the buffer's lock for a copy), in order with port 0's normal output. Emergency writes are
 * best effort: with back-pressure and a full buffer the byte is dropped and counted in
 * {@link PortInfo#emergencyDrops()} (the driver cannot be slowed down through a register
 * write); with drop-oldest the oldest buffered byte makes room.
 *
 * <h2>Data</h2>
 * <ul>
 *   <li><b>Guest to host</b> (transmitq): a chain's readable part (a writable part is ignored,
 *   CON-20) is copied into the port's bounded buffer. With back-pressure (the default) only
 *   what fits is copied; a chain that did not fit completely stays in flight until the backend
 *   has drained space, and no further chain is taken; the chain is completed (len 0) only once
 *   all of it is in the buffer. The backend's space notification brings the worker back. With
 *   drop-oldest everything is taken and the oldest buffered bytes are discarded and counted.</li>
 *   <li><b>Host to guest</b> (receiveq): input waits in the port's bounded buffer; receive
 *   chains are popped only while there is input (so none is ever held), filled and completed
 *   with the length written. A chain without a writable part is returned with len 0 and the
 *   input waits for the next one (CON-19). With MULTIPORT input is delivered only while the
 *   guest has the port open (its PORT_OPEN 1; Linux discards input for closed ports);
 *   otherwise it waits (CON-33).</li>
 *   <li>The worker never blocks on a backend: buffers are the only meeting point (see
 *   {@link dev.peridot.virtio.console.internal.backend.ByteRing}).</li>
 *   <li><b>Ports the guest does not know</b> (not added, refused with PORT_READY 0, removed):
 *   their receive buffers are never written and their transmit queues are ignored: buffers
 *   stay in the ring (CON-37). When the host removes a port that the guest knows, the guest's
 *   queued transmit buffers are completed first (as QEMU does): what fits into the port's
 *   buffer still reaches the backend, the rest is counted in
 *   {@link PortInfo#discardedBytes()}; then PORT_REMOVE is sent. Linux then takes the port's
 *   unused buffers back, moving avail.idx back; when a port with that id comes again the device
 *   reads both queues' avail.idx afresh at its PORT_READY.</li>
 * </ul>
 *
 * <h2>Control protocol (spec 5.3.6.2)</h2>
 * Nothing is sent before the driver's DEVICE_READY(1) (CON-32). Then every configured port gets
 * PORT_ADD once (CON-22, CON-30: a repeated DEVICE_READY adds nothing; DEVICE_READY(0) stops
 * further PORT_ADDs until a DEVICE_READY(1)). PORT_READY(id, 1) is answered with CONSOLE_PORT(1)
 * for console ports, PORT_NAME for named ports, RESIZE for console ports when SIZE was
 * negotiated, and PORT_OPEN(1) if the host side is connected; PORT_READY(id, 0) marks the port
 * unusable. The guest's PORT_OPEN sets its side's state. Backend connects and disconnects send
 * PORT_OPEN(1/0). Hot-plug sends PORT_ADD, unplug PORT_REMOVE (only for ports that were added:
 * if the PORT_ADD is still waiting for a buffer, both are cancelled instead, CON-31).
 * <p>Malformed driver messages — shorter than 8 bytes, unknown or device-only events, a port
 * id that is not below max_nr_ports or was never added, a repeated PORT_READY, a value other
 * than 0/1 — are ignored and their buffer completed (CON-34, HD-40, HD-42). The id of
 * DEVICE_READY is unused (Linux sends 0xFFFFFFFF).
 * <p>Outgoing messages wait in a queue until the driver posts control receive buffers (CON-35):
 * PORT_OPEN and RESIZE replace a pending one for the same port, and all messages of a port whose
 * PORT_ADD is still pending go away with it, so at most six messages per port can wait; beyond
 * {@value #MAX_PENDING_CONTROL} the oldest message other than PORT_ADD/PORT_REMOVE is dropped and
 * counted (HD-46). A buffer shorter than the message (header and payload) is returned with len 0
 * and the message waits for the next one; only a PORT_NAME is instead truncated at a UTF-8
 * character boundary to fit its buffer (HD-41).
 *
 * <h2>Reset</h2>
 * A reset (or DEVICE_READY after it) restarts the handshake from the beginning: the guest state
 * of every port is forgotten, pending control messages are dropped, held chains are forgotten.
 * Host data survives: input not yet delivered stays buffered for the next driver, and output
 * already taken from the guest still reaches the backend.
 *
 * <h2>Resize</h2>
 * {@link #resize}: port 0's size is also written to cols/rows with a new generation and a
 * configuration change notification (deferred until DRIVER_OK, OPER-04); with MULTIPORT
 * negotiated, console ports get a RESIZE message (field order per {@link ResizeOrder}).
 *
 * <h2>Threads</h2>
 * Queue processing, the control protocol and every "worker" field run on the device's worker
 * (processing lock). The port registry is copy-on-write under {@code registryLock}; API calls
 * change it and ask the worker to reconcile the guest's view ({@code requestProcessing} of the
 * control receiveq). Backends run on their own threads and meet the worker only in the ports'
 * buffers.
 */
public final class ConsoleDevice extends VirtioDevice implements ConfigOperations, VirtioConsole {

    /** Spec 5.3.1. */
    public static final int DEVICE_ID = ConsoleConstants.DEVICE_ID;
    /** Size of struct virtio_console_config. */
    public static final int CONFIG_SIZE = 12;
    public static final int CONTROL_RX = 2;
    public static final int CONTROL_TX = 3;

    public static final int DEVICE_READY = 0;
    public static final int DEVICE_ADD = 1;
    public static final int DEVICE_REMOVE = 2;
    public static final int PORT_READY = 3;
    public static final int CONSOLE_PORT = 4;
    public static final int RESIZE = 5;
    public static final int PORT_OPEN = 6;
    public static final int PORT_NAME = 7;

    /** Chains taken from one queue per pass before the worker comes back to it. */
    public static final int MAX_CHAINS_PER_PASS = 64;
    /** Bound of the outgoing control message queue (HD-46). */
    public static final int MAX_PENDING_CONTROL = 1024;
    /** How long a removed port's backend keeps passing on buffered guest output. */
    public static final long REMOVE_FLUSH_MILLIS = 2_000;

    private static final System.Logger LOG = System.getLogger(ConsoleDevice.class.getName());
    private static final int CONTROL_HEADER = 8;

    /** A message for the control receiveq. */
    private record ControlMessage(Port port, int event, int value, byte[] payload) {
    }

    private final ConsoleOptions options;
    private final int maxPorts;
    private final ConfigOperations rawConfig;
    private final Object registryLock = new Object();
    private volatile Port[] registry;
    private volatile boolean closed;
    private final CompletableFuture<Void> port0Presentable = new CompletableFuture<>();

    // worker
    private final Port[] guestPorts;
    private final ArrayDeque<ControlMessage> controlOut = new ArrayDeque<>();
    private final byte[] controlHeader = new byte[CONTROL_HEADER];
    private volatile boolean deviceReady;
    private volatile int pendingControl;
    private volatile long controlSent;
    private volatile long controlReceived;
    private volatile long controlMalformed;
    private volatile long controlDropped;
    private final AtomicLong emergencyBytes = new AtomicLong();

    /** A console whose raw 'Config Operations' are {@link DefaultConfigOperations}. */
    public ConsoleDevice(ConsoleOptions options) {
        this(options, DefaultConfigOperations::new);
    }

    /**
     * @param options    what the console looks like
     * @param configOps  makes the raw 'Config Operations' this device delegates feature words to
     *                   (the {@code DefaultOperations} service in OSGi)
     * @throws java.io.UncheckedIOException if port 0's backend cannot be opened
     */
    public ConsoleDevice(ConsoleOptions options, Function<VirtioDevice, ConfigOperations> configOps) {
        super(options.name(), DEVICE_ID, options.offeredFeatures(), queueSizes(options), CONFIG_SIZE);
        this.options = options;
        this.maxPorts = options.maxPorts();
        this.rawConfig = Objects.requireNonNull(configOps.apply(this), "config operations");
        this.guestPorts = new Port[maxPorts];
        int cols = options.cols();
        int rows = options.rows();
        changeConfig(b -> b.putShort(0, (short) cols).putShort(2, (short) rows).putInt(4, maxPorts));
        Port port0 = newPort(options.port0());
        Port[] ports = new Port[maxPorts];
        ports[0] = port0;
        registry = ports;
        port0.backend.start(port0);
        if (port0.presentable()) {
            port0Presentable.complete(null);
        }
    }

    private static int[] queueSizes(ConsoleOptions options) {
        int[] sizes = new int[options.queueCount()];
        Arrays.fill(sizes, options.queueSize());
        return sizes;
    }

    private Port newPort(PortSpec spec) {
        ConsoleBackend backend = Backends.create(spec.backend());
        return new Port(this, spec, backend, options.cols(), options.rows());
    }

    /** The options the device was built from. */
    public ConsoleOptions options() {
        return options;
    }

    /** Port {@code id}'s receive queue: 0 for port 0, 2n+2 for port n (spec 5.3.2). */
    public static int receiveQueue(int port) {
        return port == 0 ? 0 : 2 * port + 2;
    }

    /** Port {@code id}'s transmit queue: 1 for port 0, 2n+3 for port n. */
    public static int transmitQueue(int port) {
        return port == 0 ? 1 : 2 * port + 3;
    }

    /** The port whose data queue {@code queue} is, or -1 for the control queues. */
    public static int portOfQueue(int queue) {
        if (queue < 2) {
            return 0;
        }
        if (queue < 4) {
            return -1;
        }
        return (queue - 2) / 2;
    }

    /** Completes when port 0 may be presented (at once, unless its backend is a server that waits for a client). */
    public CompletableFuture<Void> port0Presentable() {
        return port0Presentable;
    }

    void signalQueue(int queue) {
        requestProcessing(queue);
    }

    private boolean multiportNegotiated() {
        return negotiatedFeatures().contains(ConsoleFeature.VIRTIO_CONSOLE_F_MULTIPORT);
    }

    private boolean sizeNegotiated() {
        return negotiatedFeatures().contains(ConsoleFeature.VIRTIO_CONSOLE_F_SIZE);
    }

    // ------------------------------------------------------------------ VirtioDevice hooks

    @Override
    protected boolean isQueueAvailable(int queue, FeatureSet features) {
        return queue < 2 || features.contains(ConsoleFeature.VIRTIO_CONSOLE_F_MULTIPORT);
    }

    @Override
    protected int readDeviceConfig(int offset, int width) {
        int value = super.readDeviceConfig(offset, width);
        FeatureSet f = presentedFeatures();
        boolean size = f.contains(ConsoleFeature.VIRTIO_CONSOLE_F_SIZE);
        boolean multiport = f.contains(ConsoleFeature.VIRTIO_CONSOLE_F_MULTIPORT);
        for (int i = 0; i < width; i++) {
            int b = offset + i;
            boolean valid = b < 4 ? size : b < 8 && multiport; // emerg_wr (8..11) always reads 0.
            if (!valid) {
                value &= ~(0xFF << (8 * i));
            }
        }
        return value;
    }

    @Override
    protected void writeDeviceConfig(int offset, int width, int value) {
        if (offset == 8) {
            if (!presentedFeatures().contains(ConsoleFeature.VIRTIO_CONSOLE_F_EMERG_WRITE)) {
                guestErrors().report("emergency write without VIRTIO_CONSOLE_F_EMERG_WRITE ignored");
                return;
            }
            emergencyWrite((byte) value);
            return;
        }
        super.writeDeviceConfig(offset, width, value);
    }

    /** Puts one emergency byte into port 0's output without waiting (vCPU thread). */
    private void emergencyWrite(byte b) {
        Port port0 = registry[0];
        emergencyBytes.incrementAndGet();
        byte[] one = {b};
        if (port0.dropOldest()) {
            port0.fromGuest.offerDropOldest(one, 0, 1);
        } else if (port0.fromGuest.offer(one, 0, 1) == 0) {
            port0.emergencyDrops.incrementAndGet();
        }
    }

    /** Emergency-write bytes the driver wrote so far. */
    public long emergencyBytes() {
        return emergencyBytes.get();
    }

    @Override
    protected void onDriverOk() {
        if (!multiportNegotiated()) {
            Port port0 = registry[0];
            port0.announced = true;
            port0.ready = true;
            port0.guestOpen = true;
        }
    }

    @Override
    protected void onReset() {
        for (Port p : guestPorts) {
            if (p != null) {
                p.clearGuestState();
            }
        }
        for (Port p : registry) {
            if (p != null) {
                p.clearGuestState();
            }
        }
        Arrays.fill(guestPorts, null);
        controlOut.clear();
        pendingControl = 0;
        deviceReady = false;
    }

    @Override
    protected void onQueueStopped(int queue) {
        int id = portOfQueue(queue);
        if (id < 0 || id >= maxPorts || queue != transmitQueue(id)) {
            return;
        }
        Port r = registry[id];
        if (r != null) {
            r.heldTx = null;
        }
        Port g = guestPorts[id];
        if (g != null) {
            g.heldTx = null;
        }
    }

    @Override
    protected void processQueue(VirtqueueAccess queue) {
        int index = queue.index();
        if (index == CONTROL_RX) {
            reconcile();
            deliverControl();
            return;
        }
        if (index == CONTROL_TX) {
            receiveControl(queue);
            return;
        }
        int id = portOfQueue(index);
        if (id >= maxPorts) {
            return;
        }
        Port port = dataPort(id);
        if (port == null) {
            return; // CON-37: the guest does not know this port; its buffers stay in the ring.
        }
        if (index == port.txQueue) {
            transmit(port, queue, false);
        } else {
            receive(port, queue);
        }
    }

    /** Worker: the port whose data queues the guest may use now, or null. */
    private Port dataPort(int id) {
        Port[] reg = registry;
        if (!multiportNegotiated()) {
            return id == 0 ? reg[0] : null;
        }
        Port g = guestPorts[id];
        return g != null && g == reg[id] && g.ready ? g : null;
    }

    // ------------------------------------------------------------------ data

    /**
     * Worker: guest to host. Takes chains while the port's buffer has room; a chain that does
     * not fit stays in flight. With {@code removing}, every queued chain is completed and what
     * does not fit is discarded (counted).
     */
    private void transmit(Port port, VirtqueueAccess queue, boolean removing) {
        boolean dropOldest = port.dropOldest();
        int budget = removing ? queue.size() + 1 : MAX_CHAINS_PER_PASS;
        long bytes = 0;
        boolean more = false;
        while (true) {
            DescriptorChain chain = port.heldTx;
            long offset = port.heldTxOffset;
            if (chain == null) {
                if (budget-- <= 0) {
                    more = true;
                    break;
                }
                chain = queue.pop();
                if (chain == null) {
                    break;
                }
                offset = 0;
            }
            long length = chain.readableLength();
            if (offset < length) {
                int n = port.fromGuest.fromGuest(chain, offset, length - offset, dropOldest);
                if (n < 0) {
                    port.heldTx = null;
                    return; // Guest memory failed: the queue reported it (DEVICE_NEEDS_RESET).
                }
                offset += n;
                bytes += n;
            }
            if (offset < length) {
                if (removing) {
                    port.discardedBytes += length - offset;
                } else {
                    port.heldTx = chain; // Back-pressure: wait for the backend's space notification.
                    port.heldTxOffset = offset;
                    break;
                }
            }
            port.heldTx = null;
            port.heldTxOffset = 0;
            queue.addUsed(chain, 0); // Device-readable only: nothing written (CON-15, CON-38).
        }
        queue.flushUsed();
        if (bytes > 0) {
            port.bytesFromGuest += bytes;
        }
        if (more) {
            requestProcessing(queue.index());
        }
    }

    /**
     * Worker: host to guest, while there is input and the guest has the port open. Input is
     * copied into the chains first and removed from the port's buffer only once the used
     * entries are published: a reset or queue stop that halts the queue in the middle of a pass
     * leaves the input buffered for the next driver instead of losing it.
     */
    private void receive(Port port, VirtqueueAccess queue) {
        if (!port.guestOpen) {
            return; // Input waits until the guest opens the port (CON-33).
        }
        int budget = MAX_CHAINS_PER_PASS;
        long copied = 0;
        boolean more = false;
        int buffered = port.toGuest.size();
        while (copied < buffered) {
            if (budget-- <= 0) {
                more = true;
                break;
            }
            DescriptorChain chain = queue.pop(); // When the ring is empty this asks for a notification (EVENT_IDX).
            if (chain == null) {
                break;
            }
            long room = chain.writableLength();
            if (room == 0) {
                guestErrors().report("port %d: receive buffer without a device-writable part returned unused", port.id);
                queue.addUsed(chain, 0); // CON-19: the input waits for the next buffer.
                continue;
            }
            int n = port.toGuest.copyToGuest(chain, copied, (int) Math.min(room, Integer.MAX_VALUE));
            if (n < 0) {
                return; // Guest memory failed: the queue reported it; the input stays buffered.
            }
            queue.addUsed(chain, n);
            copied += n;
        }
        if (!queue.flushUsed()) {
            return; // Halted by a reset, stop or fault before publication: the driver sees none of it; keep the input.
        }
        if (copied > 0) {
            port.toGuest.consume(copied);
            port.bytesToGuest += copied;
        }
        if (more) {
            requestProcessing(queue.index());
        }
    }

    // ------------------------------------------------------------------ control protocol (worker)

    /** Worker: brings the guest's view of the ports in line with the registry. */
    private void reconcile() {
        if (!multiportNegotiated() || !isLive()) {
            return;
        }
        Port[] reg = registry;
        boolean size = sizeNegotiated();
        for (int id = 0; id < maxPorts; id++) {
            Port g = guestPorts[id];
            Port r = reg[id];
            if (g != null && g != r) {
                retire(g);
                g = null;
            }
            if (r == null) {
                continue;
            }
            if (g == null) {
                if (deviceReady && r.presentable()) {
                    guestPorts[id] = r;
                    r.announced = true;
                    enqueueControl(r, DEVICE_ADD, 1, null);
                }
            } else if (r.ready) {
                boolean host = r.hostConnected();
                if (host != r.hostOpenSent) {
                    r.hostOpenSent = host;
                    enqueueControl(r, PORT_OPEN, host ? 1 : 0, null);
                }
                if (r.resizePending) {
                    r.resizePending = false;
                    if (r.spec.console() && size) {
                        enqueueControl(r, RESIZE, 0, resizePayload(r));
                    }
                }
            }
        }
    }

    /** Worker: port incarnation {@code g} leaves the guest (it was removed or replaced by the host). */
    private void retire(Port g) {
        boolean addPending = false;
        for (Iterator<ControlMessage> it = controlOut.iterator(); it.hasNext(); ) {
            ControlMessage m = it.next();
            if (m.port() == g) {
                addPending |= m.event() == DEVICE_ADD;
                it.remove(); // Per-port messages for a port that is going away are moot.
            }
        }
        if (!addPending) {
            VirtqueueAccess tx = queue(g.txQueue);
            if (tx != null && g.ready) {
                transmit(g, tx, true); // Complete what the guest queued before it learns of the removal.
            }
            enqueueControl(g, DEVICE_REMOVE, 1, null);
        }
        // else: the guest never saw the PORT_ADD, so there must be no PORT_REMOVE either (CON-31).
        g.clearGuestState();
        guestPorts[g.id] = null;
        pendingControl = controlOut.size();
    }

    private byte[] resizePayload(Port p) {
        int first = options.resizeOrder() == ResizeOrder.COLS_ROWS ? p.cols : p.rows;
        int second = options.resizeOrder() == ResizeOrder.COLS_ROWS ? p.rows : p.cols;
        return new byte[] {(byte) first, (byte) (first >>> 8), (byte) second, (byte) (second >>> 8)};
    }

    /** Worker: queues a message for the control receiveq, coalescing state messages (HD-46). */
    private void enqueueControl(Port port, int event, int value, byte[] payload) {
        if (event == PORT_OPEN || event == RESIZE) {
            controlOut.removeIf(m -> m.port() == port && m.event() == event);
        }
        if (controlOut.size() >= MAX_PENDING_CONTROL) {
            for (Iterator<ControlMessage> it = controlOut.iterator(); it.hasNext(); ) {
                ControlMessage m = it.next();
                if (m.event() != DEVICE_ADD && m.event() != DEVICE_REMOVE) {
                    it.remove();
                    controlDropped++;
                    LOG.log(System.Logger.Level.WARNING, deviceName() + ": control queue full (the driver posts no "
                            + "control receive buffers): dropped event " + m.event() + " for port " + m.port().id);
                    break;
                }
            }
        }
        controlOut.add(new ControlMessage(port, event, value, payload));
        pendingControl = controlOut.size();
    }

    /** Worker: writes pending messages into the driver's control receive buffers (CON-35). */
    private void deliverControl() {
        VirtqueueAccess q = queue(CONTROL_RX);
        if (q == null || controlOut.isEmpty()) {
            return;
        }
        boolean used = false;
        while (!controlOut.isEmpty()) {
            DescriptorChain chain = q.pop();
            if (chain == null) {
                break;
            }
            long room = chain.writableLength();
            ControlMessage m = controlOut.peek();
            if (room < minimumRoom(m)) {
                guestErrors().report("control receive buffer of %d writable bytes is too small for event %d; returned unused",
                        room, m.event());
                q.addUsed(chain, 0);
                used = true;
                continue;
            }
            byte[] bytes = encode(m, room);
            if (chain.write(0, bytes, 0, bytes.length) != bytes.length) {
                return; // Guest memory failed: the queue reported it.
            }
            q.addUsed(chain, bytes.length);
            used = true;
            controlOut.poll();
            controlSent++;
        }
        pendingControl = controlOut.size();
        if (used) {
            q.flushUsed();
        }
    }

    /**
     * The smallest buffer a message may go into: the header, and the whole payload except for a
     * PORT_NAME, which is cut to fit (HD-41). A RESIZE cut short would leave the driver reading
     * cols/rows from bytes the device never wrote (Linux copies the 4 bytes without looking at
     * the length), so it waits for a big enough buffer like any message waits for one that holds
     * its header (found by fuzz-tests: a 9-byte buffer got a 9-byte RESIZE).
     */
    private static long minimumRoom(ControlMessage m) {
        return CONTROL_HEADER + (m.event() == PORT_NAME || m.payload() == null ? 0 : m.payload().length);
    }

    private static byte[] encode(ControlMessage m, long room) {
        byte[] payload = m.payload() == null ? new byte[0] : m.payload();
        int n = (int) Math.min(payload.length, room - CONTROL_HEADER);
        if (n < payload.length) {
            // HD-41: truncate a name at a character boundary rather than write past the buffer.
            while (n > 0 && (payload[n] & 0xC0) == 0x80) {
                n--;
            }
        }
        byte[] out = new byte[CONTROL_HEADER + n];
        int id = m.port().id;
        out[0] = (byte) id;
        out[1] = (byte) (id >>> 8);
        out[2] = (byte) (id >>> 16);
        out[3] = (byte) (id >>> 24);
        out[4] = (byte) m.event();
        out[5] = (byte) (m.event() >>> 8);
        out[6] = (byte) m.value();
        out[7] = (byte) (m.value() >>> 8);
        System.arraycopy(payload, 0, out, CONTROL_HEADER, n);
        return out;
    }

    /** Worker: the driver's control messages (control transmitq). */
    private void receiveControl(VirtqueueAccess q) {
        int budget = MAX_CHAINS_PER_PASS;
        DescriptorChain chain;
        boolean more = false;
        while (true) {
            if (budget-- <= 0) {
                more = true;
                break;
            }
            chain = q.pop();
            if (chain == null) {
                break;
            }
            if (chain.readableLength() < CONTROL_HEADER) {
                malformed("control message of %d bytes is shorter than 8", chain.readableLength());
            } else if (chain.read(0, controlHeader, 0, CONTROL_HEADER) != CONTROL_HEADER) {
                return; // Guest memory failed: the queue reported it.
            } else {
                controlReceived++;
                long id = (controlHeader[0] & 0xFFL) | (controlHeader[1] & 0xFFL) << 8
                        | (controlHeader[2] & 0xFFL) << 16 | (controlHeader[3] & 0xFFL) << 24;
                int event = (controlHeader[4] & 0xFF) | (controlHeader[5] & 0xFF) << 8;
                int value = (controlHeader[6] & 0xFF) | (controlHeader[7] & 0xFF) << 8;
                handleControl(id, event, value);
            }
            q.addUsed(chain, 0); // CON-38: a modern device writes len 0 on the control transmitq.
        }
        q.flushUsed();
        if (more) {
            requestProcessing(CONTROL_TX);
        }
        reconcile();
        deliverControl();
    }

    private void malformed(String format, Object... args) {
        controlMalformed++;
        guestErrors().report("control: " + format + "; ignored", args);
    }

    private void handleControl(long id, int event, int value) {
        switch (event) {
            case DEVICE_READY -> {
                if (value == 1) {
                    deviceReady = true; // Ports are added by reconcile(), each once (CON-22, CON-30).
                } else if (value == 0) {
                    deviceReady = false;
                    LOG.log(System.Logger.Level.WARNING, deviceName() + ": the driver reported DEVICE_READY failure");
                } else {
                    malformed("DEVICE_READY value %d", value);
                }
            }
            case PORT_READY -> {
                Port p = guestPort(id);
                if (p == null) {
                    malformed("PORT_READY for port %d, which was not added", id);
                } else if (p.ready || p.refused) {
                    malformed("repeated PORT_READY for port %d", id);
                } else if (value == 1) {
                    portReady(p);
                } else if (value == 0) {
                    p.refused = true;
                    LOG.log(System.Logger.Level.WARNING, deviceName() + ": the driver refused port " + id);
                } else {
                    malformed("PORT_READY value %d for port %d", value, id);
                }
            }
            case PORT_OPEN -> {
                Port p = guestPort(id);
                if (p == null || !p.ready) {
                    malformed("PORT_OPEN for port %d, which is not ready", id);
                } else if (value != 0 && value != 1) {
                    malformed("PORT_OPEN value %d for port %d", value, id);
                } else {
                    p.guestOpen = value == 1;
                    if (p.guestOpen) {
                        requestProcessing(p.rxQueue); // Deliver input that waited (CON-33).
                    }
                }
            }
            default -> malformed("event %d (unknown or device-to-driver only) for port %d", event, id);
        }
    }

    private Port guestPort(long id) {
        return id >= 0 && id < maxPorts ? guestPorts[(int) id] : null;
    }

    /** Worker: PORT_READY(1): the port's details follow (CON-25). */
    private void portReady(Port p) {
        p.ready = true;
        // When this id was unplugged before, Linux took the port's unused buffers back
        // (remove_port_data: virtqueue_detach_unused_buf moves avail.idx back) and has just filled
        // the receiveq again; what the device read of either queue before is stale.
        for (int q : new int[] {p.rxQueue, p.txQueue}) {
            VirtqueueAccess queue = queue(q);
            if (queue != null) {
                queue.rereadAvailIndex();
            }
        }
        PortSpec spec = p.spec;
        if (spec.console()) {
            enqueueControl(p, CONSOLE_PORT, 1, null); // Linux ignores value 0 (CON-26).
        }
        if (!spec.name().isEmpty()) {
            enqueueControl(p, PORT_NAME, 1, spec.name().getBytes(StandardCharsets.UTF_8));
        }
        p.resizePending = false;
        if (spec.console() && sizeNegotiated()) {
            enqueueControl(p, RESIZE, 0, resizePayload(p));
        }
        boolean host = p.hostConnected();
        p.hostOpenSent = host;
        if (host) {
            enqueueControl(p, PORT_OPEN, 1, null);
        }
        requestProcessing(p.txQueue); // Output the guest queued while the port was being set up.
    }

    // ------------------------------------------------------------------ backend signals (any thread)

    void portConnectionChanged(Port port) {
        if (port.id == 0 && port.presentable()) {
            port0Presentable.complete(null);
        }
        requestProcessing(CONTROL_RX);
    }

    // ------------------------------------------------------------------ 'Config Operations'

    @Override
    public int deviceFeatureBits(int select) {
        return rawConfig.deviceFeatureBits(select);
    }

    @Override
    public int driverFeatureBits(int select) {
        return rawConfig.driverFeatureBits(select);
    }

    @Override
    public void setDriverFeatureBits(int select, int bits) {
        rawConfig.setDriverFeatureBits(select, bits);
    }

    // ------------------------------------------------------------------ VirtioConsole

    @Override
    public int maxPorts() {
        return maxPorts;
    }

    @Override
    public boolean multiportOffered() {
        return options.multiport();
    }

    @Override
    public List<PortInfo> ports() {
        List<PortInfo> list = new ArrayList<>();
        for (Port p : registry) {
            if (p != null) {
                list.add(p.snapshot());
            }
        }
        return list;
    }

    @Override
    public Optional<PortInfo> port(int id) {
        Port[] reg = registry;
        return id >= 0 && id < reg.length && reg[id] != null ? Optional.of(reg[id].snapshot()) : Optional.empty();
    }

    private Port existing(int id) {
        Port[] reg = registry;
        if (id < 0 || id >= reg.length || reg[id] == null) {
            throw new IllegalArgumentException(deviceName() + " has no port " + id);
        }
        return reg[id];
    }

    @Override
    public int send(int port, byte[] data) {
        return send(port, data, 0, data.length);
    }

    /** {@link #send(int, byte[])} of {@code data[off..off+len)}, without allocating. */
    public int send(int port, byte[] data, int off, int len) {
        Objects.checkFromIndexSize(off, len, data.length);
        return existing(port).toGuest.offer(data, off, len); // The buffer's listener wakes the worker.
    }

    @Override
    public byte[] read(int port, int maxBytes) {
        if (maxBytes < 0) {
            throw new IllegalArgumentException("maxBytes " + maxBytes);
        }
        Port p = existing(port);
        byte[] buffer = new byte[Math.min(maxBytes, Math.max(p.fromGuest.capacity(), Port.TAP_SIZE))];
        int n = read(port, buffer, 0, buffer.length);
        return n == buffer.length ? buffer : Arrays.copyOf(buffer, n);
    }

    /** {@link #read(int, int)} into {@code dst[off..off+len)}, without allocating; returns the bytes read. */
    public int read(int port, byte[] dst, int off, int len) {
        Objects.checkFromIndexSize(off, len, dst.length);
        Port p = existing(port);
        synchronized (p) {
            if (!p.backend.drainsOutput()) {
                int n = p.fromGuest.take(dst, off, len); // Frees space: the worker is told.
                p.passedOn.addAndGet(n);
                return n;
            }
            return p.tap.take(dst, off, len);
        }
    }

    @Override
    public void resize(int port, int cols, int rows) {
        if (cols < 0 || cols > 0xFFFF || rows < 0 || rows > 0xFFFF) {
            throw new IllegalArgumentException("cols and rows must be 0..65535: " + cols + "x" + rows);
        }
        Port p = existing(port);
        p.cols = cols;
        p.rows = rows;
        if (port == 0 && presentedFeatures().contains(ConsoleFeature.VIRTIO_CONSOLE_F_SIZE)) {
            // Generation bump and configuration change notification (CON-17, HD-14, OPER-04).
            changeConfig(b -> b.putShort(0, (short) cols).putShort(2, (short) rows));
        }
        p.resizePending = true;
        requestProcessing(CONTROL_RX);
    }

    @Override
    public int addPort(PortSpec spec) {
        Objects.requireNonNull(spec, "spec");
        if (closed) {
            throw new IllegalStateException(deviceName() + " is closed");
        }
        if (spec.id() == 0) {
            reconfigurePort0(spec);
            return 0;
        }
        if (!options.multiport()) {
            throw new IllegalArgumentException(deviceName() + " does not offer VIRTIO_CONSOLE_F_MULTIPORT: only port 0 exists");
        }
        if (spec.id() >= maxPorts) {
            throw new IllegalArgumentException("port " + spec.id() + " is not below max_nr_ports " + maxPorts);
        }
        int id;
        Port port;
        synchronized (registryLock) {
            Port[] reg = registry;
            id = spec.id();
            if (id == PortSpec.AUTO_ID) {
                id = -1;
                for (int i = 1; i < maxPorts; i++) {
                    if (reg[i] == null) {
                        id = i;
                        break;
                    }
                }
                if (id < 0) {
                    throw new IllegalStateException(deviceName() + ": all " + maxPorts + " ports are in use");
                }
            } else if (reg[id] != null) {
                throw new IllegalStateException(deviceName() + ": port " + id + " exists already");
            }
            port = newPort(spec.withId(id));
            Port[] copy = reg.clone();
            copy[id] = port;
            registry = copy;
            port.backend.start(port);
        }
        LOG.log(System.Logger.Level.INFO, deviceName() + ": port " + id + " added: " + port.backend.description());
        requestProcessing(CONTROL_RX);
        return id;
    }

    @Override
    public boolean removePort(int id) {
        if (id == 0) {
            reconfigurePort0(options.port0());
            return true;
        }
        Port port;
        synchronized (registryLock) {
            Port[] reg = registry;
            if (id < 0 || id >= reg.length || reg[id] == null) {
                return false;
            }
            port = reg[id];
            Port[] copy = reg.clone();
            copy[id] = null;
            registry = copy;
        }
        port.backend.close(REMOVE_FLUSH_MILLIS);
        LOG.log(System.Logger.Level.INFO, deviceName() + ": port " + id + " removed");
        requestProcessing(CONTROL_RX);
        return true;
    }

    /**
     * Gives port 0 a new backend, name, console flag and overflow policy (its buffers stay, so
     * nothing buffered is lost). The new backend starts taking output once the old one has
     * stopped. Name and console flag reach a multiport guest at its next PORT_READY.
     */
    private void reconfigurePort0(PortSpec spec) {
        synchronized (registryLock) {
            Port p = registry[0];
            ConsoleBackend next = Backends.create(spec.backend());
            ConsoleBackend old;
            synchronized (p) {
                old = p.backend;
                p.spec = new PortSpec(0, spec.name(), spec.console(), spec.backend(), p.toGuest.capacity(),
                        p.fromGuest.capacity(), spec.overflow());
                p.backend = next;
            }
            old.close(0).whenComplete((v, e) -> next.start(p));
            LOG.log(System.Logger.Level.INFO, deviceName() + ": port 0 now uses " + next.description());
        }
        requestProcessing(CONTROL_RX);
    }

    /** Closes every backend (the device is going away). Buffered guest output gets a short time to drain. */
    public void close() {
        closed = true;
        for (Port p : registry) {
            if (p != null) {
                p.backend.close(REMOVE_FLUSH_MILLIS);
            }
        }
    }

    // ------------------------------------------------------------------ inspection

    /** Whether the driver sent DEVICE_READY(1) since the last reset. */
    public boolean isDeviceReady() {
        return deviceReady;
    }

    /** Control messages waiting for a control receive buffer. */
    public int pendingControlMessages() {
        return pendingControl;
    }

    /** Control messages written to the driver since creation. */
    public long controlMessagesSent() {
        return controlSent;
    }

    /** Well-formed-length control messages received from the driver. */
    public long controlMessagesReceived() {
        return controlReceived;
    }

    /** Driver control messages ignored as malformed (CON-34). */
    public long malformedControlMessages() {
        return controlMalformed;
    }

    /** Control messages dropped because the queue bound was reached (HD-46). */
    public long droppedControlMessages() {
        return controlDropped;
    }

    /** Whether the driver is live with DRIVER_OK (for snapshots). */
    boolean driverOk() {
        return (status() & DeviceStatus.DRIVER_OK) != 0;
    }

    @Override
    public String toString() {
        return super.toString() + " ports " + ports().size() + "/" + maxPorts
                + (options.port0().overflow() == OverflowPolicy.DROP_OLDEST ? " (port 0 drop-oldest)" : "");
    }
}
