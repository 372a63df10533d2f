package dev.peridot.virtio.benchmarks;

import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.VirtioDevice;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.queue.DescriptorChain;
import dev.peridot.virtio.queue.VirtqueueAccess;

/** A minimal device for transport benchmarks: queue 0 buffers are read into a scratch array and used at once. */
final class SinkDevice extends VirtioDevice implements ConfigOperations {

    private final byte[] scratch = new byte[4096];
    long bytes;

    SinkDevice(String name) {
        super(name, 0xFFF2, FeatureSet.of(28, 29, 32), new int[] {256}, 8);
    }

    @Override
    protected void processQueue(VirtqueueAccess queue) {
        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            bytes += Math.max(0, chain.read(0, scratch, 0, (int) Math.min(scratch.length, chain.readableLength())));
            queue.addUsed(chain, 0);
        }
        queue.flushUsed();
    }

    @Override
    public int deviceFeatureBits(int select) {
        return presentedFeatures().word(select);
    }

    @Override
    public int driverFeatureBits(int select) {
        return driverFeatureWord(select);
    }

    @Override
    public void setDriverFeatureBits(int select, int bits) {
        setDriverFeatureWord(select, bits);
    }
}
