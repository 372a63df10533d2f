package dev.peridot.virtio.entropy;

import dev.peridot.virtio.testing.DriverRing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.device.DeviceTransport;
import dev.peridot.virtio.device.NotifyDriver;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.memory.GuestMemory;
import dev.peridot.virtio.memory.SegmentGuestMemory;
import dev.peridot.virtio.queue.SplitRing;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The entropy device on a plain test transport, driven the way a driver would (spec 3.1.1, 5.4). */
class EntropyDeviceTest {

    private static final long RAM = 0x4000_0000L;
    private static final long SIZE = 8L << 20;
    private static final long SEED = 7;

    private SegmentGuestMemory memory;
    private EntropyDevice device;
    private DriverRing ring;
    private final AtomicInteger usedNotifications = new AtomicInteger();
    private final AtomicInteger configNotifications = new AtomicInteger();
    private long nextBuffer = RAM + 0x10_0000L;

    @BeforeEach
    void bringUp() {
        memory = SegmentGuestMemory.allocate(RAM, SIZE);
        device = new EntropyDevice("rng-test", new SeededSource(SEED));
        device.attach(new DeviceTransport() {
            @Override
            public String name() {
                return "test";
            }

            @Override
            public GuestMemory guestMemory() {
                return memory;
            }

            @Override
            public NotifyDriver notifyDriver() {
                return new NotifyDriver() {
                    @Override
                    public void usedBuffer(int queue) {
                        usedNotifications.incrementAndGet();
                    }

                    @Override
                    public void configurationChanged() {
                        configNotifications.incrementAndGet();
                    }
                };
            }

            @Override
            public FeatureSet supportedFeatures() {
                return EntropyDevice.FEATURES;
            }
        });
        assertThat(device.deviceId()).isEqualTo(4);
        assertThat(device.queueCount()).isEqualTo(1);
        assertThat(device.configSpaceSize()).isZero();
        device.writeStatus(DeviceStatus.ACKNOWLEDGE);
        device.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        device.setDriverFeatureWord(0, EntropyDevice.FEATURES.word(0));
        device.setDriverFeatureWord(1, EntropyDevice.FEATURES.word(1));
        device.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        ring = DriverRing.at(memory, 256, RAM);
        device.setQueueSize(0, 256);
        device.setQueueDescriptorArea(0, ring.desc);
        device.setQueueDriverArea(0, ring.avail);
        device.setQueueDeviceArea(0, ring.used);
        device.setQueueReady(0, true);
        device.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
    }

    @AfterEach
    void tearDown() {
        device.detach();
        memory.close();
    }

    private long buffer(int length) {
        long at = nextBuffer;
        nextBuffer = (nextBuffer + length + 15) & ~15L;
        return at;
    }

    private byte[] read(long address, int length) throws Exception {
        byte[] b = new byte[length];
        memory.read(address, b, 0, length);
        return b;
    }

    private static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            LockSupport.parkNanos(100_000);
        }
    }

    @Test
    void fillsWritableBuffersWithTheSourcesBytesInOrder() throws Exception {
        long a = buffer(64);
        long b = buffer(100);
        ring.post(DriverRing.Buffer.writable(a, 64));
        ring.post(DriverRing.Buffer.writable(b, 100));
        device.notifyQueue(0);
        await(() -> ring.usedIdx() == 2, "2 used");
        byte[] stream = SeededSource.stream(SEED, 164);
        assertThat(read(a, 64)).isEqualTo(Arrays.copyOfRange(stream, 0, 64));
        assertThat(read(b, 100)).isEqualTo(Arrays.copyOfRange(stream, 64, 164));
        assertThat(ring.usedEntry(0).length()).isEqualTo(64);
        assertThat(ring.usedEntry(1).length()).isEqualTo(100);
        assertThat(device.bytesDelivered()).isEqualTo(164);
        assertThat(usedNotifications.get()).isPositive();
    }

    @Test
    void aChainSplitOverSeveralDescriptorsGetsOneContiguousSlice() throws Exception {
        long a = buffer(10);
        long b = buffer(22);
        ring.post(DriverRing.Buffer.writable(a, 10), DriverRing.Buffer.writable(b, 22));
        device.notifyQueue(0);
        await(() -> ring.usedIdx() == 1, "used");
        byte[] stream = SeededSource.stream(SEED, 32);
        assertThat(read(a, 10)).isEqualTo(Arrays.copyOfRange(stream, 0, 10));
        assertThat(read(b, 22)).isEqualTo(Arrays.copyOfRange(stream, 10, 32));
    }

    /** Spec 5.4.6.1: the driver must not post device-readable buffers; the device returns them untouched with length 0. */
    @Test
    void readableOnlyChainIsReturnedWithLengthZero() throws Exception {
        long r = buffer(16);
        ring.post(DriverRing.Buffer.readable(r, 16));
        long w = buffer(8);
        ring.post(DriverRing.Buffer.writable(w, 8));
        device.notifyQueue(0);
        await(() -> ring.usedIdx() == 2, "2 used");
        assertThat(ring.usedEntry(0).length()).isZero();
        assertThat(read(r, 16)).containsOnly(0);
        assertThat(read(w, 8)).isEqualTo(SeededSource.stream(SEED, 8));
        assertThat(device.status() & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }

    /** HD-24: a 4 MiB buffer gets at most 64 KiB (the spec lets the device use less, 5.4.6.2). */
    @Test
    void hugeBufferGetsAtMostTheCap() {
        long big = buffer(4 << 20);
        ring.post(DriverRing.Buffer.writable(big, 4 << 20));
        device.notifyQueue(0);
        await(() -> ring.usedIdx() == 1, "used");
        assertThat(ring.usedEntry(0).length()).isEqualTo(EntropyDevice.MAX_BYTES_PER_BUFFER);
    }

    /** More chains than one pass takes: the device comes back for the rest by itself. */
    @Test
    void manyChainsAreAllServedInBoundedPasses() {
        for (int i = 0; i < 200; i++) {
            ring.post(DriverRing.Buffer.writable(buffer(64), 64));
        }
        device.notifyQueue(0);
        await(() -> ring.usedIdx() == 200, "200 used");
        assertThat(device.buffersFilled()).isEqualTo(200);
    }

    /** HD-23: a buffer beyond guest memory puts the device into DEVICE_NEEDS_RESET; nothing is written. */
    @Test
    void hd23BufferOutsideGuestMemoryNeedsReset() {
        ring.post(DriverRing.Buffer.writable(RAM + SIZE - 16, 64));
        device.notifyQueue(0);
        await(() -> (device.status() & DeviceStatus.DEVICE_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET");
        await(() -> configNotifications.get() == 1, "configuration change notification");
        assertThat(ring.usedIdx()).isZero();
        assertThat(device.bytesDelivered()).isZero();
    }

    @Test
    void offersOnlyVersion1AndTheRingFeatures() {
        assertThat(device.offeredFeatures()).isEqualTo(EntropyDevice.FEATURES);
        assertThat(device.negotiatedFeatures().contains(32)).isTrue();
        assertThat(SplitRing.isValidSize(EntropyDevice.QUEUE_MAX_SIZE)).isTrue();
    }
}
