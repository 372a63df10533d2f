package dev.peridot.virtio.transport.vhostuser.internal;

import dev.peridot.virtio.device.VirtioDevice;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.queue.DescriptorChain;
import dev.peridot.virtio.queue.VirtqueueAccess;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A device for transport tests (ID 0xFFF0, not a spec type): fills the writable part of every
 * chain with a counter byte pattern and pushes it. Two queues, 8 bytes of configuration.
 */
public final class PatternDevice extends VirtioDevice {

    public static final FeatureSet FEATURES = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1,
            ReservedFeature.VIRTIO_F_INDIRECT_DESC, ReservedFeature.VIRTIO_F_EVENT_IDX);

    public final AtomicInteger chains = new AtomicInteger();
    private int next;

    public PatternDevice(String name) {
        super(name, 0xFFF0, FEATURES, new int[] {256, 256}, 8);
        changeConfig(b -> b.putInt(0, 0x11223344).putInt(4, 0x55667788));
    }

    @Override
    protected void processQueue(VirtqueueAccess queue) {
        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            byte[] data = new byte[(int) chain.writableLength()];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) next++;
            }
            int written = chain.write(0, data, 0, data.length);
            chains.incrementAndGet();
            queue.push(chain, Math.max(0, written));
        }
    }

    /** The pattern bytes from stream position {@code from}. */
    public static byte[] pattern(int from, int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (from + i);
        }
        return b;
    }
}
