package dev.peridot.virtio.testkit.support;

import dev.peridot.virtio.device.ConfigOperations;
import dev.peridot.virtio.device.VirtioDevice;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.queue.DescriptorChain;
import dev.peridot.virtio.queue.VirtqueueAccess;
import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * A device shaped like the single-port console of the reference trace — device ID 3, features
 * EMERG_WRITE, INDIRECT_DESC, EVENT_IDX, VERSION_1, RING_RESET, two queues of 1024, 12 bytes of
 * configuration — with the simplest behaviour: queue 1 output is collected, queue 0 buffers wait
 * for {@link #inject}, a write to offset 8 is an emergency write. It lets the MMIO suite run
 * before (and independently of) the real console device.
 */
public final class ConsoleShapedDevice extends VirtioDevice implements ConfigOperations {

    public static final FeatureSet TRACE_FEATURES = FeatureSet.of(2, 28, 29, 32, 40);

    private final ByteArrayOutputStream output = new ByteArrayOutputStream();
    private final ByteArrayOutputStream emergency = new ByteArrayOutputStream();
    private final Deque<DescriptorChain> receiveBuffers = new ArrayDeque<>();
    private final ByteArrayOutputStream pendingInput = new ByteArrayOutputStream();
    private final dev.peridot.virtio.defaults.DefaultConfigOperations config;

    /** The device with exactly the reference trace's features. */
    public ConsoleShapedDevice(String name) {
        this(name, TRACE_FEATURES);
    }

    public ConsoleShapedDevice(String name, FeatureSet features) {
        super(name, 3, features, new int[] {1024, 1024}, 12);
        this.config = new dev.peridot.virtio.defaults.DefaultConfigOperations(this);
        changeConfig(b -> b.putShort(0, (short) 80).putShort(2, (short) 25).putInt(4, 1));
    }

    @Override
    protected void processQueue(VirtqueueAccess queue) {
        DescriptorChain chain;
        if (queue.index() == 1) {
            while ((chain = queue.pop()) != null) {
                byte[] data = new byte[(int) chain.readableLength()];
                chain.read(0, data, 0, data.length);
                synchronized (output) {
                    output.write(data, 0, data.length);
                }
                queue.push(chain, 0);
            }
        } else if (queue.index() == 0) {
            while ((chain = queue.pop()) != null) {
                receiveBuffers.add(chain);
            }
            deliverInput(queue);
        }
    }

    private void deliverInput(VirtqueueAccess queue) {
        byte[] input;
        synchronized (pendingInput) {
            input = pendingInput.toByteArray();
        }
        int offset = 0;
        while (offset < input.length && !receiveBuffers.isEmpty()) {
            DescriptorChain chain = receiveBuffers.poll();
            int n = (int) Math.min(chain.writableLength(), input.length - offset);
            chain.write(0, input, offset, n);
            queue.addUsed(chain, n);
            offset += n;
        }
        queue.flushUsed();
        synchronized (pendingInput) {
            byte[] rest = java.util.Arrays.copyOfRange(input, offset, input.length);
            pendingInput.reset();
            pendingInput.write(rest, 0, rest.length);
        }
    }

    /** Host input for queue 0. */
    public void inject(byte[] data) {
        synchronized (pendingInput) {
            pendingInput.write(data, 0, data.length);
        }
        requestProcessing(0);
    }

    /** A host-side resize: new cols/rows with a generation bump and a configuration change notification. */
    public void resize(int cols, int rows) {
        changeConfig(b -> b.putShort(0, (short) cols).putShort(2, (short) rows));
    }

    public byte[] output() {
        synchronized (output) {
            return output.toByteArray();
        }
    }

    public byte[] emergencyOutput() {
        synchronized (emergency) {
            return emergency.toByteArray();
        }
    }

    @Override
    protected void writeDeviceConfig(int offset, int width, int value) {
        if (offset == 8) {
            synchronized (emergency) {
                emergency.write(value & 0xFF);
            }
        } else {
            super.writeDeviceConfig(offset, width, value);
        }
    }

    @Override
    protected void onReset() {
        receiveBuffers.clear();
    }

    @Override
    protected void onQueueStopped(int queue) {
        if (queue == 0) {
            receiveBuffers.clear();
        }
    }

    // 'Config Operations' through the default implementation (VD01 §5).
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
