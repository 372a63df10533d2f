package dev.peridot.virtio.testing;

import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.memory.GuestMemoryException;
import dev.peridot.virtio.memory.SegmentGuestMemory;
import java.util.ArrayList;
import java.util.List;

/**
 * A test device attached to a recording transport over 16 MiB of guest memory at
 * {@link #RAM_BASE}, with a bump allocator and the driver's bring-up sequence (spec 3.1.1).
 */
public final class Rig implements AutoCloseable {

    public static final long RAM_BASE = 0x1000_0000L;
    public static final long RAM_SIZE = 16L << 20;
    public static final FeatureSet VERSION_1 = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1);
    public static final FeatureSet ALL_CORE = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1,
            ReservedFeature.VIRTIO_F_INDIRECT_DESC, ReservedFeature.VIRTIO_F_EVENT_IDX,
            ReservedFeature.VIRTIO_F_RING_RESET);

    public final SegmentGuestMemory memory;
    public final RecordingTransport transport;
    public final TestDevice device;
    public final List<DriverRing> rings = new ArrayList<>();
    private long next = RAM_BASE;

    public Rig(FeatureSet offered, int... queueMaxSizes) {
        memory = SegmentGuestMemory.allocate(RAM_BASE, RAM_SIZE);
        transport = new RecordingTransport(memory);
        device = new TestDevice("test0", offered, queueMaxSizes);
        device.attach(transport);
    }

    /** Two queues of maximum size 256, every core feature offered. */
    public static Rig standard() {
        return new Rig(ALL_CORE, 256, 256);
    }

    public long alloc(long bytes, int align) {
        long address = (next + align - 1) & -align;
        next = address + bytes;
        if (next > RAM_BASE + RAM_SIZE) {
            throw new IllegalStateException("test guest memory exhausted");
        }
        return address;
    }

    /** A buffer with the given content. */
    public long buffer(byte[] content) {
        long address = alloc(Math.max(1, content.length), 8);
        try {
            memory.write(address, content, 0, content.length);
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
        return address;
    }

    /** A zero-filled buffer of {@code length} bytes. */
    public long buffer(int length) {
        return alloc(Math.max(1, length), 8);
    }

    public byte[] read(long address, int length) {
        byte[] out = new byte[length];
        try {
            memory.read(address, out, 0, length);
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
        return out;
    }

    /** ACKNOWLEDGE, DRIVER, the feature words, FEATURES_OK; returns the status read back. */
    public int negotiate(FeatureSet features) {
        device.writeStatus(DeviceStatus.ACKNOWLEDGE);
        device.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        for (int w = 0; w < FeatureSet.WORDS; w++) {
            device.setDriverFeatureWord(w, features.word(w));
        }
        device.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        return device.status();
    }

    /** Allocates a ring of {@code size} and programs queue {@code q} with it (not yet ready). */
    public DriverRing program(int q, int size) {
        DriverRing ring = DriverRing.at(memory, size, alloc(3 * 4096L + 20L * size, 4096));
        device.setQueueSize(q, size);
        device.setQueueDescriptorArea(q, ring.desc);
        device.setQueueDriverArea(q, ring.avail);
        device.setQueueDeviceArea(q, ring.used);
        while (rings.size() <= q) {
            rings.add(null);
        }
        rings.set(q, ring);
        return ring;
    }

    /** Negotiates, enables every queue with {@code size}, sets DRIVER_OK. */
    public Rig bringUp(FeatureSet features, int size) {
        negotiate(features);
        for (int q = 0; q < device.queueCount(); q++) {
            program(q, size);
            device.setQueueReady(q, true);
        }
        device.writeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK
                | DeviceStatus.DRIVER_OK);
        Await.until(() -> device.events.contains("driver-ok"), "onDriverOk");
        return this;
    }

    public DriverRing ring(int q) {
        return rings.get(q);
    }

    /** Waits until queue {@code q}'s used idx reaches {@code idx}. */
    public void awaitUsed(int q, int idx) {
        Await.until(() -> ring(q).usedIdx() == (idx & 0xFFFF), "queue " + q + " used idx " + idx);
    }

    public void awaitNeedsReset() {
        Await.until(() -> (device.status() & DeviceStatus.DEVICE_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET");
    }

    @Override
    public void close() {
        device.detach();
        memory.close();
    }
}
