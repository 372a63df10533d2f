package dev.peridot.virtio.fuzz.support;

import dev.peridot.virtio.defaults.DefaultConfigOperations;
import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.VirtioDevice;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.queue.DescriptorChain;
import dev.peridot.virtio.queue.VirtqueueAccess;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The device the MMIO and ring targets drive: three queues with the three ways a real device
 * treats buffers, a configuration space with a device-changed and a driver-writable field, and
 * host-side events the fuzzer can trigger.
 * <ul>
 *   <li>queue 0, loopback: every chain is completed at once; the device reads up to
 *   {@value #MAX_TRANSFER} readable bytes and fills up to {@value #MAX_TRANSFER} writable bytes
 *   with {@link #fill} of the readable bytes' sum (a ring model can predict every byte);</li>
 *   <li>queue 1, hold: chains are kept (like a console's receive buffers) until the host
 *   {@link #release}s them, then filled the same way;</li>
 *   <li>queue 2, sink: readable bytes are consumed, at most {@value #SINK_BUDGET} chains per
 *   pass; the device asks to be called again if more are available.</li>
 * </ul>
 * Device-specific features: bit 0, and bit 1 which needs bit 0 ({@link #acceptFeatures}).
 */
public final class FuzzDevice extends VirtioDevice implements ConfigOperations {

    public static final int DEVICE_ID = 0x7f0;
    public static final int LOOPBACK = 0;
    public static final int HOLD = 1;
    public static final int SINK = 2;
    public static final int[] MAX_SIZES = {256, 64, 16};
    public static final int CONFIG_SIZE = 16;
    public static final int MAX_TRANSFER = 4096;
    public static final int SINK_BUDGET = 4;
    public static final FeatureSet OFFER = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1,
            ReservedFeature.VIRTIO_F_INDIRECT_DESC, ReservedFeature.VIRTIO_F_EVENT_IDX,
            ReservedFeature.VIRTIO_F_RING_RESET, ReservedFeature.VIRTIO_F_NOTIFICATION_DATA).with(0).with(1);

    private final DefaultConfigOperations config = new DefaultConfigOperations(this);
    private final ArrayDeque<DescriptorChain> held = new ArrayDeque<>();
    private final byte[] in = new byte[MAX_TRANSFER];
    private final byte[] out = new byte[MAX_TRANSFER];
    private volatile int scratch;
    private volatile int heldCount;
    private volatile int maxHeldSeen;
    private volatile boolean failNext;
    private final WorkerBarrier barrier = new WorkerBarrier(this::execute);
    private final AtomicLong processed = new AtomicLong();

    public FuzzDevice(String name) {
        super(name, DEVICE_ID, OFFER, MAX_SIZES.clone(), CONFIG_SIZE);
        changeConfig(b -> b.putInt(0, 80).putInt(8, 0x12345678).putInt(12, 0x9abcdef0));
    }

    /** The byte the device writes at offset {@code i} of a chain whose readable bytes sum to {@code sum}. */
    public static byte fill(int sum, int i) {
        return (byte) (sum * 31 + i);
    }

    // ---------------------------------------------------------------- queues

    @Override
    protected void processQueue(VirtqueueAccess queue) {
        if (failNext) {
            failNext = false;
            throw new IllegalStateException(SevereLog.INJECTED + " (fuzzer host event)");
        }
        processed.incrementAndGet();
        switch (queue.index()) {
            case LOOPBACK -> {
                DescriptorChain chain;
                while ((chain = queue.pop()) != null) {
                    complete(queue, chain);
                }
                queue.flushUsed();
            }
            case HOLD -> {
                DescriptorChain chain;
                while ((chain = queue.pop()) != null) {
                    held.add(chain);
                }
                heldCount = held.size();
                maxHeldSeen = Math.max(maxHeldSeen, held.size());
            }
            default -> {
                DescriptorChain chain;
                int budget = SINK_BUDGET;
                while (budget-- > 0 && (chain = queue.pop()) != null) {
                    int n = (int) Math.min(chain.readableLength(), MAX_TRANSFER);
                    chain.read(0, in, 0, n);
                    queue.addUsed(chain, 0);
                }
                queue.flushUsed();
                if (queue.hasAvailable()) {
                    requestProcessing(queue.index());
                }
            }
        }
    }

    /** Reads the readable part, fills the writable part, adds the chain to the used ring. */
    private void complete(VirtqueueAccess queue, DescriptorChain chain) {
        int n = (int) Math.min(chain.readableLength(), MAX_TRANSFER);
        int sum = 0;
        if (n > 0 && chain.read(0, in, 0, n) == n) {
            for (int i = 0; i < n; i++) {
                sum += in[i] & 0xFF;
            }
        }
        int w = (int) Math.min(chain.writableLength(), MAX_TRANSFER);
        for (int i = 0; i < w; i++) {
            out[i] = fill(sum, i);
        }
        if (w > 0 && chain.write(0, out, 0, w) != w) {
            return; // Guest memory failed: the queue faulted, the chain is dropped.
        }
        queue.addUsed(chain, w);
    }

    @Override
    protected void onReset() {
        held.clear();
        heldCount = 0;
    }

    @Override
    protected void onQueueStopped(int queue) {
        if (queue == HOLD) {
            held.clear();
            heldCount = 0;
        }
    }

    @Override
    protected boolean acceptFeatures(FeatureSet features) {
        return !features.contains(1) || features.contains(0);
    }

    // ---------------------------------------------------------------- configuration space

    @Override
    protected int readDeviceConfig(int offset, int width) {
        int value = 0;
        byte[] bytes = configSpace();
        for (int i = width - 1; i >= 0; i--) {
            int at = offset + i;
            int b = at >= 4 && at < 8 ? (scratch >>> (8 * (at - 4))) & 0xFF : bytes[at] & 0xFF;
            value = (value << 8) | b;
        }
        return value;
    }

    @Override
    protected void writeDeviceConfig(int offset, int width, int value) {
        if (offset >= 4 && offset + width <= 8) {
            int shift = 8 * (offset - 4);
            long mask = ((1L << (8 * width)) - 1) << shift;
            scratch = (int) ((scratch & ~mask) | (((long) value << shift) & mask));
        } else {
            super.writeDeviceConfig(offset, width, value);
        }
    }

    // ---------------------------------------------------------------- host side

    /** Host event: completes up to {@code count} held chains of queue 1 (on the worker). */
    public void release(int count) {
        execute(() -> {
            VirtqueueAccess q = queue(HOLD);
            if (q == null || !isLive()) {
                return;
            }
            for (int i = 0; i < count && !held.isEmpty(); i++) {
                complete(q, held.poll());
            }
            heldCount = held.size();
            q.flushUsed();
        });
    }

    /** Host event: the device-changed configuration field changes (generation bump, config interrupt). */
    public void resize(int value) {
        changeConfig(b -> b.putInt(0, value));
    }

    /** Host event: the device fails on its own (a backend died) and asks for a reset. */
    public void hostFailure() {
        requestNeedsReset("host-side failure injected by the fuzzer");
    }

    /** Host event: the next queue pass throws (a device bug the core must contain). */
    public void failNextPass() {
        failNext = true;
    }

    /** Forgets an injected failure that never happened (between inputs). */
    public void clearInjectedFailure() {
        failNext = false;
    }

    /** Chains held by the device on queue 1. */
    public int heldCount() {
        return heldCount;
    }

    /** processQueue calls that got past the injected failure. */
    public long processed() {
        return processed.get();
    }

    /** Waits until the worker is idle (see {@link WorkerBarrier}); false if it does not get there within the timeout. */
    public boolean quiesce(long timeoutNanos) {
        return barrier.quiesce(timeoutNanos);
    }

    // ---------------------------------------------------------------- Config Operations

    @Override
    public int deviceFeatureBits(int select) {
        return config.deviceFeatureBits(select);
    }

    @Override
    public int driverFeatureBits(int select) {
        return config.driverFeatureBits(select);
    }

    @Override
    public void setDriverFeatureBits(int select, int bits) {
        config.setDriverFeatureBits(select, bits);
    }
}
