package dev.peridot.virtio.entropy;

import dev.peridot.virtio.device.DeviceType;
import dev.peridot.virtio.device.VirtioDevice;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.queue.DescriptorChain;
import dev.peridot.virtio.queue.VirtqueueAccess;
import java.util.Objects;

/**
 * The entropy device, virtio-rng (spec 5.4): device ID 4, one request queue, no feature bits of
 * its own and no configuration space. The driver posts device-writable buffers; the device
 * fills them from its {@link EntropySource} and returns them with the number of bytes written.
 *
 * <ul>
 *   <li>A chain without a writable part (the driver MUST NOT post one, 5.4.6.1) is returned with
 *   length 0: nothing to fill, and the queue keeps going (spec 2.7.8).</li>
 *   <li>At most {@value #MAX_BYTES_PER_BUFFER} bytes go into one buffer: the spec lets the device
 *   use less than the whole buffer (5.4.6.2: "MAY use less than the entire buffer length"), and a
 *   hostile driver's 4 GiB buffer (HD-24) then costs no more than a small one.</li>
 *   <li>At most {@value #MAX_CHAINS_PER_PASS} chains per pass, then the worker comes back, so one
 *   busy queue cannot monopolise the worker; used entries are published once per pass.</li>
 * </ul>
 *
 * <p>Runs on the device's worker thread; the fill buffer is allocated once, so the steady state
 * allocates nothing (with an allocation-free source such as {@link SeededSource}).
 */
public final class EntropyDevice extends VirtioDevice {

    /** Spec 5.4.1: the entropy device's ID. */
    public static final int DEVICE_ID = DeviceType.ENTROPY.id();
    /** The request queue's index (spec 5.4.2: requestq is queue 0). */
    public static final int REQUEST_QUEUE = 0;
    /** QueueNumMax of the request queue; Linux uses the maximum it is offered. */
    public static final int QUEUE_MAX_SIZE = 1024;
    /** Offered: VERSION_1 and the ring features the core implements; virtio-rng defines no bits of its own. */
    public static final FeatureSet FEATURES = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1,
            ReservedFeature.VIRTIO_F_INDIRECT_DESC, ReservedFeature.VIRTIO_F_EVENT_IDX);
    public static final int MAX_BYTES_PER_BUFFER = 64 * 1024;
    public static final int MAX_CHAINS_PER_PASS = 64;

    private final EntropySource source;
    private final byte[] scratch = new byte[4096];
    private volatile long bytesDelivered;
    private volatile long buffersFilled;

    public EntropyDevice(String name, EntropySource source) {
        super(name, DEVICE_ID, FEATURES, new int[] {QUEUE_MAX_SIZE}, 0);
        this.source = Objects.requireNonNull(source, "source");
    }

    /** The source the bytes come from. */
    public EntropySource source() {
        return source;
    }

    /** Bytes written into the driver's buffers so far. */
    public long bytesDelivered() {
        return bytesDelivered;
    }

    /** Buffers returned to the driver so far. */
    public long buffersFilled() {
        return buffersFilled;
    }

    @Override
    protected void processQueue(VirtqueueAccess queue) {
        int chains = 0;
        long bytes = 0;
        DescriptorChain chain;
        while (chains < MAX_CHAINS_PER_PASS && (chain = queue.pop()) != null) {
            int written = fill(chain);
            if (written < 0) {
                break; // Guest memory failed: the queue has reported the fault (DEVICE_NEEDS_RESET).
            }
            queue.addUsed(chain, written);
            chains++;
            bytes += written;
        }
        queue.flushUsed();
        if (chains > 0) {
            bytesDelivered += bytes;
            buffersFilled += chains;
        }
        if (chains == MAX_CHAINS_PER_PASS) {
            requestProcessing(queue.index()); // More may be waiting: come back after other work.
        }
    }

    /** Fills the writable part (up to the cap); returns the bytes written or -1 if guest memory failed. */
    private int fill(DescriptorChain chain) {
        int length = (int) Math.min(chain.writableLength(), MAX_BYTES_PER_BUFFER);
        int done = 0;
        while (done < length) {
            int n = Math.min(scratch.length, length - done);
            source.fill(scratch, 0, n);
            int w = chain.write(done, scratch, 0, n);
            if (w < 0) {
                return -1;
            }
            done += w;
            if (w < n) {
                break;
            }
        }
        return done;
    }

    @Override
    public String toString() {
        return super.toString() + " from " + source.describe();
    }
}
