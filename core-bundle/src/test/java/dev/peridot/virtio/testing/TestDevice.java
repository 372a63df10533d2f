package dev.peridot.virtio.testing;

import dev.peridot.virtio.device.VirtioDevice;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.queue.DescriptorChain;
import dev.peridot.virtio.queue.VirtqueueAccess;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A device for core tests (device ID 0xFFF0, not a spec type): every chain it pops has its
 * readable bytes appended to {@link #received}, and its writable part filled with
 * {@link #fill} bytes; then it is pushed. In {@code hold} mode chains stay in flight until
 * {@link #releaseHeld()}.
 */
public final class TestDevice extends VirtioDevice {

    public static final int ID = 0xFFF0;

    public final ByteArrayOutputStream received = new ByteArrayOutputStream();
    public final List<String> events = new CopyOnWriteArrayList<>();
    public final AtomicInteger chainsSeen = new AtomicInteger();
    public volatile byte fill = (byte) 0x5A;
    public volatile boolean hold;
    public volatile boolean batch;
    public volatile boolean failInProcess;
    /** When set, processQueue waits for it: simulates a worker busy with a long pass. */
    public volatile java.util.concurrent.CountDownLatch gate;
    public volatile Boolean acceptFeaturesAnswer = Boolean.TRUE;
    private final List<DescriptorChain> held = new ArrayList<>();

    public TestDevice(String name, FeatureSet offered, int... queueMaxSizes) {
        super(name, ID, offered, queueMaxSizes, 8);
        changeConfig(b -> b.putInt(0, 0x11223344));
    }

    @Override
    protected void processQueue(VirtqueueAccess queue) {
        java.util.concurrent.CountDownLatch g = gate;
        if (g != null) {
            try {
                g.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (failInProcess) {
            throw new IllegalStateException("device bug for a test");
        }
        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            chainsSeen.incrementAndGet();
            byte[] data = new byte[(int) chain.readableLength()];
            chain.read(0, data, 0, data.length);
            synchronized (received) {
                received.write(data, 0, data.length);
            }
            if (hold) {
                held.add(chain);
                continue;
            }
            int written = writePattern(chain);
            if (batch) {
                queue.addUsed(chain, written);
            } else {
                queue.push(chain, written);
            }
        }
        if (batch) {
            queue.flushUsed();
        }
    }

    private int writePattern(DescriptorChain chain) {
        byte[] pattern = new byte[(int) chain.writableLength()];
        java.util.Arrays.fill(pattern, fill);
        return Math.max(0, chain.write(0, pattern, 0, pattern.length));
    }

    /** Pushes every held chain (on the worker). */
    public void releaseHeld() {
        execute(() -> {
            for (DescriptorChain chain : held) {
                VirtqueueAccess q = queue(chain.queueIndex());
                if (q != null) {
                    q.push(chain, writePattern(chain));
                }
            }
            held.clear();
        });
    }

    public int heldCount() {
        return held.size();
    }

    /** Changes config bytes 4..7 (device-side change). */
    public void setConfigWord(int value) {
        changeConfig(b -> b.putInt(4, value));
    }

    public byte[] receivedBytes() {
        synchronized (received) {
            return received.toByteArray();
        }
    }

    @Override
    protected void onDriverOk() {
        events.add("driver-ok");
    }

    @Override
    protected void onReset() {
        events.add("reset");
        held.clear();
    }

    @Override
    protected void onQueueStopped(int queue) {
        events.add("queue-stopped " + queue);
        held.removeIf(c -> c.queueIndex() == queue);
    }

    @Override
    protected boolean acceptFeatures(FeatureSet features) {
        return acceptFeaturesAnswer;
    }

    public void needsResetFromDevice(String reason) {
        requestNeedsReset(reason);
    }
}
