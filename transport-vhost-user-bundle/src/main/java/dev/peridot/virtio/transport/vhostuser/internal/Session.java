package dev.peridot.virtio.transport.vhostuser.internal;

import static dev.peridot.virtio.transport.vhostuser.internal.VhostUserProtocol.*;

import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.device.RunOperations;
import dev.peridot.virtio.memory.GuestMemory;
import dev.peridot.virtio.queue.SplitRing;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * One front-end connection: reads requests, keeps the front-end's view of the device (memory
 * table, rings, negotiated features) and drives the device through its 'Run Operations' and
 * 'Config Operations' exactly as a driver would through MMIO registers — so a device bundle
 * runs unchanged on either transport.
 *
 * <h2>How vhost-user maps onto the device's status (spec 3.1.1)</h2>
 * vhost-user carries no status writes (the STATUS protocol feature is not offered), so the
 * session performs the driver's steps itself: SET_FEATURES resets the device if a driver had
 * brought it up, then writes ACKNOWLEDGE, DRIVER, the feature words and FEATURES_OK; the first
 * ring that starts gets DRIVER_OK set. A ring runs in the device (QueueReady=1) exactly while it
 * is <em>started</em> (a kick descriptor arrived, no GET_VRING_BASE since), <em>enabled</em>
 * (SET_VRING_ENABLE 1, or SET_FEATURES without VHOST_USER_F_PROTOCOL_FEATURES), fully
 * described, and the features are negotiated: see {@link #reconcile()}. Stopping a ring keeps
 * its position ({@link RunOperations#stopQueue}), which GET_VRING_BASE returns and a restart
 * resumes from ({@link RunOperations#setQueueNextAvail}).
 *
 * <h2>Errors</h2>
 * A request that breaks the protocol (wrong shape, out of order, untranslatable address) throws
 * {@link ProtocolException}: the connection is closed. What the guest controls (a queue size
 * that is not a power of 2, a descriptor pointing outside memory: HD-04, HD-23, HD-24) is the
 * device's business: it refuses the ring or enters DEVICE_NEEDS_RESET, and the connection stays.
 *
 * <p>Threads: the connection thread calls everything except {@link #usedBuffer},
 * {@link #configurationChanged} (the device's worker) and {@link #guestMemory} (any).
 */
public final class Session {

    private static final System.Logger LOG = System.getLogger(Session.class.getName());
    private static final int DRIVER_UP = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK;
    /** How long a device reset may take before the session gives up on it. */
    private static final long RESET_TIMEOUT_NANOS = 5_000_000_000L;

    private final String name;
    private final MessageChannel channel;
    private final ConfigOperations config;
    private final RunOperations run;
    private final Arena ringArena = Arena.ofShared();
    private final Vring[] rings;
    private final KickPoller kicks;

    private volatile MemoryTable memory;
    private long protocolFeatures;
    private boolean protocolFeaturesSet;
    /** The last SET_FEATURES value (with bit 30), or -1 before the first. */
    private long ackedFeatures = -1;
    private boolean owner;
    private long messages;

    public Session(String name, MessageChannel channel, ConfigOperations config, RunOperations run) throws IOException {
        this.name = name;
        this.channel = channel;
        this.config = config;
        this.run = run;
        int queues = config.queueCount();
        this.rings = new Vring[queues];
        for (int i = 0; i < queues; i++) {
            rings[i] = new Vring(i, ringArena);
        }
        this.kicks = new KickPoller("vhost-user-kick-" + name, rings, run);
        kicks.start();
    }

    // ---------------------------------------------------------------- for the device (DeviceTransport)

    /** The current guest memory, or null before SET_MEM_TABLE. */
    public GuestMemory guestMemory() {
        MemoryTable table = memory;
        return table == null ? null : table.guestMemory();
    }

    /** A used buffer notification: signal the ring's call eventfd. Worker thread, allocation-free. */
    public void usedBuffer(int queue) {
        if (queue >= 0 && queue < rings.length) {
            rings[queue].signalCall();
        }
    }

    /**
     * A configuration change notification. vhost-user delivers these through the back-end
     * request channel (BACKEND_REQ, not offered here), so the only thing the guest can learn
     * is DEVICE_NEEDS_RESET: every ring's error eventfd is signalled, and QEMU logs it.
     */
    public void configurationChanged() {
        if ((config.status() & DeviceStatus.DEVICE_NEEDS_RESET) != 0) {
            LOG.log(System.Logger.Level.WARNING, name + ": the device needs a reset; signalling the rings' error eventfds");
            for (Vring ring : rings) {
                ring.signalError();
            }
        } else {
            LOG.log(System.Logger.Level.DEBUG, name + ": configuration change not delivered: vhost-user needs the "
                    + "back-end request channel for that, which this back-end does not offer");
        }
    }

    // ---------------------------------------------------------------- serving

    /**
     * Serves requests until the front-end disconnects, the back-end stops, or the front-end
     * breaks the protocol (then {@link ProtocolException}).
     */
    public void serve() throws IOException, ProtocolException {
        while (true) {
            Message m = channel.read();
            messages++;
            try {
                handle(m);
            } catch (ProtocolException e) {
                if (m.needsReply() && hasProtocolFeature(PROTOCOL_F_REPLY_ACK) && !hasOwnReply(m.request())) {
                    try {
                        channel.reply(m.request(), u64(1)); // Non-zero: the request failed.
                    } catch (IOException ignored) {
                        // The connection is closed next anyway.
                    }
                }
                throw e;
            } finally {
                m.closeUntakenFds();
            }
            if (m.needsReply() && hasProtocolFeature(PROTOCOL_F_REPLY_ACK) && !hasOwnReply(m.request())) {
                channel.reply(m.request(), u64(0)); // REPLY_ACK: zero means success.
            }
        }
    }

    /** Requests that answer with their own payload; REPLY_ACK adds nothing to them. */
    private static boolean hasOwnReply(int request) {
        return request == GET_FEATURES || request == GET_PROTOCOL_FEATURES || request == GET_VRING_BASE
                || request == GET_QUEUE_NUM || request == GET_CONFIG;
    }

    private boolean hasProtocolFeature(int bit) {
        return (protocolFeatures & (1L << bit)) != 0;
    }

    public long messagesHandled() {
        return messages;
    }

    void handle(Message m) throws IOException, ProtocolException {
        LOG.log(System.Logger.Level.TRACE, () -> name + ": " + m);
        switch (m.request()) {
            case GET_FEATURES -> channel.reply(GET_FEATURES, u64(deviceFeatures() | (1L << F_PROTOCOL_FEATURES)));
            case SET_FEATURES -> setFeatures(m.u64(0));
            case GET_PROTOCOL_FEATURES -> channel.reply(GET_PROTOCOL_FEATURES, u64(SUPPORTED_PROTOCOL_FEATURES));
            case SET_PROTOCOL_FEATURES -> setProtocolFeatures(m.u64(0));
            case SET_OWNER -> owner = true;
            case RESET_OWNER -> resetOwner();
            case SET_MEM_TABLE -> setMemTable(m);
            case GET_QUEUE_NUM -> channel.reply(GET_QUEUE_NUM, u64(rings.length));
            case SET_VRING_NUM -> setVringNum(m);
            case SET_VRING_ADDR -> setVringAddr(m);
            case SET_VRING_BASE -> setVringBase(m);
            case GET_VRING_BASE -> getVringBase(m);
            case SET_VRING_KICK -> setVringKick(m);
            case SET_VRING_CALL -> ring(m, m.u64(0) & VRING_INDEX_MASK).replaceCallFd(takeOptionalFd(m));
            case SET_VRING_ERR -> ring(m, m.u64(0) & VRING_INDEX_MASK).replaceErrFd(takeOptionalFd(m));
            case SET_VRING_ENABLE -> setVringEnable(m);
            case GET_CONFIG -> getConfig(m);
            case SET_CONFIG -> setConfig(m);
            default -> throw new ProtocolException(name(m.request()) + ": not supported");
        }
    }

    private static byte[] u64(long value) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value).array();
    }

    private long deviceFeatures() {
        return (config.deviceFeatureBits(0) & 0xFFFF_FFFFL) | ((long) config.deviceFeatureBits(1) << 32);
    }

    private Vring ring(Message m, long index) throws ProtocolException {
        if (index < 0 || index >= rings.length) {
            throw new ProtocolException(name(m.request()) + ": ring " + index + " does not exist (the device has "
                    + rings.length + ")");
        }
        return rings[(int) index];
    }

    private static int takeOptionalFd(Message m) {
        return (m.u64(0) & VRING_NOFD_MASK) != 0 ? -1 : m.takeFd(0);
    }

    // ---------------------------------------------------------------- features

    private void setProtocolFeatures(long requested) throws ProtocolException {
        if ((requested & ~SUPPORTED_PROTOCOL_FEATURES) != 0) {
            throw new ProtocolException(String.format("SET_PROTOCOL_FEATURES: 0x%x includes features never offered (0x%x)",
                    requested, requested & ~SUPPORTED_PROTOCOL_FEATURES));
        }
        protocolFeatures = requested;
        protocolFeaturesSet = true;
    }

    /**
     * SET_FEATURES: the driver's feature negotiation (spec 3.1.1 steps 1-6) on the device. Bit 30
     * belongs to the transport and is removed. The device is reset first unless it is running
     * with exactly these features (QEMU re-sends SET_FEATURES while rings run only to toggle
     * dirty logging, which is not offered). Without bit 30 every ring is enabled (spec: rings
     * are enabled by SET_FEATURES without VHOST_USER_F_PROTOCOL_FEATURES).
     */
    private void setFeatures(long features) throws ProtocolException {
        long offered = deviceFeatures() | (1L << F_PROTOCOL_FEATURES);
        if ((features & ~offered) != 0) {
            throw new ProtocolException(String.format("SET_FEATURES: 0x%x includes bits never offered (0x%x)", features,
                    features & ~offered));
        }
        long deviceBits = features & ~(1L << F_PROTOCOL_FEATURES);
        ackedFeatures = features;
        boolean anyRunning = false;
        for (Vring ring : rings) {
            anyRunning |= ring.running;
        }
        int status = config.status();
        boolean sameAndHealthy = (status & (DeviceStatus.FEATURES_OK | DeviceStatus.DEVICE_NEEDS_RESET
                | DeviceStatus.FAILED)) == DeviceStatus.FEATURES_OK && !config.isResetUnderway()
                && negotiatedDeviceFeatures() == deviceBits;
        if (!(anyRunning && sameAndHealthy)) {
            stopRunningRings();
            resetDevice();
            run.writeStatus(DeviceStatus.ACKNOWLEDGE);
            run.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
            config.setDriverFeatureBits(0, (int) deviceBits);
            config.setDriverFeatureBits(1, (int) (deviceBits >>> 32));
            run.writeStatus(DRIVER_UP);
            if ((config.status() & DeviceStatus.FEATURES_OK) == 0) {
                throw new ProtocolException(String.format("SET_FEATURES: the device refused the features 0x%x", deviceBits));
            }
            for (Vring ring : rings) {
                ring.refused = false;
            }
        }
        if ((features & (1L << F_PROTOCOL_FEATURES)) == 0) {
            for (Vring ring : rings) {
                ring.enabled = true;
            }
        }
        reconcile();
    }

    private long negotiatedDeviceFeatures() {
        return (config.driverFeatureBits(0) & 0xFFFF_FFFFL) | ((long) config.driverFeatureBits(1) << 32);
    }

    private boolean featuresNegotiated() {
        int status = config.status();
        return ackedFeatures >= 0 && (status & DeviceStatus.FEATURES_OK) != 0 && !config.isResetUnderway();
    }

    /**
     * Resets the device (status 0) and waits until the reset has finished — the worker has let go
     * of every queue and of guest memory (VD01 §2.2, RESET_UNDERWAY).
     */
    private void resetDevice() {
        if (config.status() == 0 && !config.isResetUnderway()) {
            return;
        }
        run.writeStatus(0);
        long deadline = System.nanoTime() + RESET_TIMEOUT_NANOS;
        while (config.isResetUnderway() || config.status() != 0) {
            if (System.nanoTime() > deadline) {
                LOG.log(System.Logger.Level.ERROR, name + ": the device did not finish its reset within 5 s");
                return;
            }
            LockSupport.parkNanos(200_000);
        }
    }

    private void resetOwner() {
        stopRunningRings();
        resetDevice();
        for (Vring ring : rings) {
            ring.started = false;
            ring.enabled = false;
            ring.size = 0;
            ring.addressesSet = false;
            ring.base = 0;
            ring.kickPending = false;
            kicks.retire(ring.kickFd);
            ring.kickFd = -1;
            ring.closeNotifiers();
        }
        MemoryTable old = memory;
        memory = null;
        if (old != null) {
            old.close();
        }
        ackedFeatures = -1;
        owner = false;
    }

    // ---------------------------------------------------------------- memory

    /**
     * SET_MEM_TABLE: maps the new regions, then swaps them in. Running rings are stopped first
     * (keeping their positions), so the device never reads through a table that is being
     * unmapped, and restarted over the new table.
     */
    private void setMemTable(Message m) throws IOException, ProtocolException {
        List<MemoryTable.Region> regions = MemoryTable.parse(m.payload());
        int[] fds = new int[regions.size()];
        for (int i = 0; i < fds.length; i++) {
            fds[i] = m.takeFd(i);
        }
        MemoryTable table;
        try {
            table = MemoryTable.map(regions, fds);
        } catch (IOException e) {
            throw new ProtocolException("SET_MEM_TABLE: cannot map the regions " + regions + ": " + e.getMessage());
        } finally {
            for (int fd : fds) {
                Native.closeQuietly(fd); // The mappings stay; the descriptors are not needed any more.
            }
        }
        stopRunningRings();
        MemoryTable old = memory;
        memory = table;
        if (old != null) {
            old.close();
        }
        LOG.log(System.Logger.Level.DEBUG, () -> name + ": memory table " + regions);
        for (Vring ring : rings) {
            ring.refused = false;
        }
        reconcile();
    }

    // ---------------------------------------------------------------- rings

    private Vring stoppedRing(Message m, long index) throws ProtocolException {
        Vring ring = ring(m, index);
        if (ring.running) {
            throw new ProtocolException(name(m.request()) + ": ring " + index + " is running; stop it first "
                    + "(SET_VRING_ENABLE 0 or GET_VRING_BASE)");
        }
        return ring;
    }

    private void setVringNum(Message m) throws ProtocolException {
        Vring ring = stoppedRing(m, Integer.toUnsignedLong(m.u32(0)));
        long num = Integer.toUnsignedLong(m.u32(4));
        if (num < 1 || num > SplitRing.MAX_QUEUE_SIZE) {
            throw new ProtocolException("SET_VRING_NUM: ring " + ring.index + " size " + num + " is outside 1.."
                    + SplitRing.MAX_QUEUE_SIZE);
        }
        // Whether the size suits the device (a power of 2, at most its maximum) is the device's
        // decision when the ring starts: the size comes from the guest (HD-04).
        ring.size = (int) num;
        ring.refused = false;
        if (ring.addressesSet) {
            translateRing(ring, "SET_VRING_NUM"); // The areas grow with the size.
        }
    }

    private void setVringAddr(Message m) throws ProtocolException {
        ByteBuffer p = m.payload();
        Vring ring = stoppedRing(m, Integer.toUnsignedLong(p.getInt(0)));
        int flags = p.getInt(4);
        if (flags != 0) {
            throw new ProtocolException(String.format("SET_VRING_ADDR: ring %d flags 0x%x: dirty logging was not offered",
                    ring.index, flags));
        }
        ring.descUser = p.getLong(8);
        ring.usedUser = p.getLong(16);
        ring.availUser = p.getLong(24);
        // p.getLong(32) is the log address, meaningless without VHOST_VRING_F_LOG.
        ring.addressesSet = true;
        ring.refused = false;
        translateRing(ring, "SET_VRING_ADDR");
    }

    /** The guest addresses of the ring's three areas; the front-end must have sent addresses its memory table covers. */
    private long[] translateRing(Vring ring, String request) throws ProtocolException {
        MemoryTable table = memory;
        if (table == null) {
            throw new ProtocolException(request + ": ring " + ring.index + " addresses before any SET_MEM_TABLE");
        }
        int size = Math.max(1, ring.size);
        long desc = table.userToGuest(ring.descUser, SplitRing.descriptorTableBytes(size));
        long avail = table.userToGuest(ring.availUser, SplitRing.availRingBytes(size));
        long used = table.userToGuest(ring.usedUser, SplitRing.usedRingBytes(size));
        if (desc < 0 || avail < 0 || used < 0) {
            throw new ProtocolException(String.format(
                    "%s: ring %d addresses desc 0x%x, avail 0x%x, used 0x%x (size %d) are not inside one memory region each %s",
                    request, ring.index, ring.descUser, ring.availUser, ring.usedUser, size, table.regions()));
        }
        return new long[] {desc, avail, used};
    }

    private void setVringBase(Message m) throws ProtocolException {
        Vring ring = stoppedRing(m, Integer.toUnsignedLong(m.u32(0)));
        long base = Integer.toUnsignedLong(m.u32(4));
        if (base > 0xFFFF) {
            throw new ProtocolException("SET_VRING_BASE: ring " + ring.index + " base " + base
                    + " is not a 16-bit index (packed rings were not offered)");
        }
        ring.base = (int) base;
        ring.refused = false;
    }

    /** GET_VRING_BASE: stops the ring (not a reset: its position is kept) and answers the next available index. */
    private void getVringBase(Message m) throws IOException, ProtocolException {
        Vring ring = ring(m, Integer.toUnsignedLong(m.u32(0)));
        ring.started = false;
        if (ring.running) {
            stopRing(ring);
        }
        kicks.retire(ring.kickFd);
        ring.kickFd = -1;
        ring.kickPending = false;
        kicks.update();
        ByteBuffer reply = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(0, ring.index).putInt(4, ring.base);
        channel.reply(GET_VRING_BASE, reply.array());
    }

    private void setVringKick(Message m) throws ProtocolException {
        long value = m.u64(0);
        Vring ring = ring(m, value & VRING_INDEX_MASK);
        if ((value & VRING_NOFD_MASK) != 0) {
            throw new ProtocolException("SET_VRING_KICK: ring " + ring.index
                    + " without a kick descriptor (polling mode) is not supported");
        }
        int fd = m.takeFd(0);
        if (!Native.isEventFd(fd)) {
            // The kick thread polls the descriptor and reads a counter from it: anything but an eventfd (a regular
            // file is always readable, a hung-up pipe always reports POLLHUP) would make it spin (found by fuzzing).
            Native.closeQuietly(fd);
            throw new ProtocolException("SET_VRING_KICK: ring " + ring.index + ": the descriptor is not an eventfd");
        }
        int old = ring.kickFd;
        ring.kickFd = fd;
        kicks.retire(old);
        kicks.update();
        ring.started = true;
        ring.refused = false;
        reconcile();
    }

    private void setVringEnable(Message m) throws ProtocolException {
        Vring ring = ring(m, Integer.toUnsignedLong(m.u32(0)));
        int enable = m.u32(4);
        if (enable != 0 && enable != 1) {
            throw new ProtocolException("SET_VRING_ENABLE: ring " + ring.index + " value " + Integer.toUnsignedString(enable)
                    + " is neither 0 nor 1");
        }
        ring.enabled = enable == 1;
        ring.refused = false;
        reconcile();
    }

    /**
     * Brings each ring's state in the device in line with what the front-end asked for: a ring
     * runs exactly while it is started, enabled, has a size, addresses and a memory table, and
     * the features are negotiated. Never kicks a ring that does not run.
     */
    private void reconcile() throws ProtocolException {
        boolean negotiated = featuresNegotiated();
        for (Vring ring : rings) {
            boolean shouldRun = ring.started && ring.enabled && ring.kickFd >= 0 && ring.size > 0 && ring.addressesSet
                    && memory != null && negotiated && !ring.refused;
            if (shouldRun && !ring.running) {
                startRing(ring);
            } else if (!shouldRun && ring.running) {
                stopRing(ring);
            }
        }
    }

    private void startRing(Vring ring) throws ProtocolException {
        long[] areas = translateRing(ring, "starting ring " + ring.index);
        int q = ring.index;
        run.setQueueSize(q, ring.size);
        run.setQueueDescriptorArea(q, areas[0]);
        run.setQueueDriverArea(q, areas[1]);
        run.setQueueDeviceArea(q, areas[2]);
        run.setQueueNextAvail(q, ring.base);
        run.setQueueReady(q, true);
        if (!config.isQueueReady(q)) {
            // The layout came from the guest: the device refused it and logged why (HD-04, HD-09).
            ring.refused = true;
            LOG.log(System.Logger.Level.WARNING, name + ": the device refused " + ring
                    + " (see its guest-error log); it stays stopped until the front-end changes it");
            return;
        }
        ring.running = true;
        if ((config.status() & DeviceStatus.DRIVER_OK) == 0) {
            run.writeStatus(DRIVER_UP | DeviceStatus.DRIVER_OK);
        }
        if (ring.kickPending) {
            // A kick that came while the ring was not running; the device scans an enabled
            // ring anyway, this only makes sure.
            ring.kickPending = false;
            run.notifyQueue(q);
        }
        LOG.log(System.Logger.Level.DEBUG, () -> name + ": started " + ring);
    }

    private void stopRing(Vring ring) {
        ring.running = false;
        ring.base = run.stopQueue(ring.index);
        LOG.log(System.Logger.Level.DEBUG, () -> name + ": stopped " + ring);
    }

    private void stopRunningRings() {
        for (Vring ring : rings) {
            if (ring.running) {
                stopRing(ring);
            }
        }
    }

    // ---------------------------------------------------------------- configuration space

    /** GET_CONFIG: the device-specific configuration (spec 2.5); bytes beyond the device's space read 0. */
    private void getConfig(Message m) throws IOException, ProtocolException {
        ByteBuffer p = m.payload();
        long offset = Integer.toUnsignedLong(p.getInt(0));
        int size = p.getInt(4);
        if (offset + size > MAX_CONFIG_SIZE) {
            throw new ProtocolException("GET_CONFIG: offset " + offset + " + size " + size + " beyond "
                    + MAX_CONFIG_SIZE + " bytes");
        }
        byte[] reply = new byte[12 + size];
        ByteBuffer r = ByteBuffer.wrap(reply).order(ByteOrder.LITTLE_ENDIAN);
        r.putInt(0, (int) offset).putInt(4, size).putInt(8, p.getInt(8));
        int space = config.configSpaceSize();
        int i = 0;
        while (i < size) {
            int at = (int) offset + i;
            if (at >= space) {
                break;
            }
            int width = accessWidth(at, size - i, space);
            int value = run.readConfig(at, width);
            for (int b = 0; b < width; b++) {
                reply[12 + i + b] = (byte) (value >>> (8 * b));
            }
            i += width;
        }
        channel.reply(GET_CONFIG, reply);
    }

    /** SET_CONFIG: a driver write to the configuration space; bytes beyond the device's space are ignored. */
    private void setConfig(Message m) throws ProtocolException {
        ByteBuffer p = m.payload();
        long offset = Integer.toUnsignedLong(p.getInt(0));
        int size = p.getInt(4);
        if (offset + size > MAX_CONFIG_SIZE) {
            throw new ProtocolException("SET_CONFIG: offset " + offset + " + size " + size + " beyond "
                    + MAX_CONFIG_SIZE + " bytes");
        }
        int space = config.configSpaceSize();
        int i = 0;
        while (i < size) {
            int at = (int) offset + i;
            if (at >= space) {
                LOG.log(System.Logger.Level.WARNING, name + ": SET_CONFIG bytes from offset " + at
                        + " lie beyond the " + space + "-byte configuration space; ignored");
                break;
            }
            int width = accessWidth(at, size - i, space);
            int value = 0;
            for (int b = width - 1; b >= 0; b--) {
                value = (value << 8) | (p.get(12 + i + b) & 0xFF);
            }
            run.writeConfig(at, width, value);
            i += width;
        }
    }

    /** The widest naturally aligned access (4, 2 or 1 bytes) at {@code at} within both limits, so fields are read whole. */
    private static int accessWidth(int at, int remaining, int space) {
        for (int width = 4; width > 1; width >>= 1) {
            if ((at & (width - 1)) == 0 && remaining >= width && at + width <= space) {
                return width;
            }
        }
        return 1;
    }

    // ---------------------------------------------------------------- ending

    /**
     * Ends the session: stops the kick thread, resets the device (which waits until its worker
     * has let go of the rings and guest memory), then unmaps the memory and closes every
     * descriptor. The device itself stays attached for the next connection.
     */
    public void close() {
        kicks.stop();
        for (Vring ring : rings) {
            ring.running = false;
        }
        resetDevice();
        MemoryTable table = memory;
        memory = null;
        if (table != null) {
            table.close();
        }
        for (Vring ring : rings) {
            Native.closeQuietly(ring.kickFd);
            ring.kickFd = -1;
            ring.closeNotifiers();
        }
        channel.close();
        ringArena.close();
    }

    /** A one-line summary for logs. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append(messages).append(" messages, owner ").append(owner).append(", protocol features 0x")
                .append(Long.toHexString(protocolFeatures)).append(protocolFeaturesSet ? "" : " (not set)");
        for (Vring ring : rings) {
            sb.append(", ").append(ring).append(" calls ").append(ring.callsSent());
        }
        sb.append(", kicks ").append(kicks.kicksForwarded()).append(" forwarded, ").append(kicks.kicksDeferred())
                .append(" deferred");
        return sb.toString();
    }
}
