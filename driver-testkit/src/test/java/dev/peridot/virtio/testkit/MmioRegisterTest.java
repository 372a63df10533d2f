package dev.peridot.virtio.testkit;

import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.feature.ReservedFeature;
import dev.peridot.virtio.testkit.support.ConsoleShapedDevice;
import dev.peridot.virtio.testkit.support.MmioRig;
import dev.peridot.virtio.transport.mmio.MmioDeviceAccess;
import dev.peridot.virtio.transport.mmio.MmioLayout;
import dev.peridot.virtio.transport.mmio.MmioMachine;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The MMIO register file (spec 4.2.2) by checklist ID, and the register-level hostile inputs HD-01..HD-14. */
class MmioRegisterTest {

    private static final FeatureSet F0 = FeatureSet.of(ReservedFeature.VIRTIO_F_VERSION_1);
    private static final FeatureSet ALL = ConsoleShapedDevice.TRACE_FEATURES;

    private final MmioRig rig = new MmioRig();

    @AfterEach
    void close() {
        rig.close();
    }

    private void settle() {
        LockSupport.parkNanos(50_000_000L);
    }

    /** Every defined register readable by a driver, for "nothing changed" snapshots. */
    private int[] snapshot() {
        int[] offsets = {MAGIC_VALUE, VERSION, DEVICE_ID, VENDOR_ID, DEVICE_FEATURES, QUEUE_NUM_MAX, QUEUE_READY,
                INTERRUPT_STATUS, STATUS, QUEUE_RESET, CONFIG_GENERATION};
        int[] values = new int[offsets.length + 3];
        for (int i = 0; i < offsets.length; i++) {
            values[i] = rig.r(offsets[i]);
        }
        values[offsets.length] = rig.window.read(CONFIG, 4);
        values[offsets.length + 1] = rig.window.read(CONFIG + 4, 4);
        values[offsets.length + 2] = rig.window.read(CONFIG + 8, 4);
        return values;
    }

    @Test
    @DisplayName("MMIO-01: the window covers the registers and the whole config space; accesses beyond the window are refused")
    void windowCoversRegistersAndConfig() {
        assertThat(rig.window.windowSize()).isGreaterThanOrEqualTo(CONFIG + rig.device.configSpaceSize());
        for (int offset = 0; offset < rig.device.configSpaceSize(); offset++) {
            rig.window.read(CONFIG + offset, 1);
        }
        long invalid = rig.window.statistics().invalidAccesses();
        assertThat(rig.window.read(CONFIG + 8, 4)).as("emerg_wr reads 0 but is inside").isZero();
        assertThat(rig.window.statistics().invalidAccesses()).isEqualTo(invalid);
        assertThat(rig.window.read(rig.window.windowSize(), 4)).isZero();
        rig.window.write(rig.window.windowSize() + 0x70, 4, 0);
        assertThat(rig.window.statistics().invalidAccesses()).isEqualTo(invalid + 2);
        assertThat(rig.machine.read(MmioLayout.DEFAULT.base(0) + rig.window.windowSize() + DEVICE_ID, 4))
                .as("the next window is another slot").isZero();
    }

    @Test
    @DisplayName("MMIO-02/03/04/05/06, INIT-11, CON-01: identification registers, constant in every state")
    void identificationRegisters() {
        for (int step = 0; step < 4; step++) {
            assertThat(rig.r(MAGIC_VALUE)).isEqualTo(0x74726976);
            assertThat(rig.window.read(MAGIC_VALUE, 4)).as("'virt' in memory order").isEqualTo('v' | 'i' << 8 | 'r' << 16 | 't' << 24);
            assertThat(rig.r(VERSION)).isEqualTo(2);
            assertThat(rig.r(DEVICE_ID)).isEqualTo(3);
            assertThat(rig.r(VENDOR_ID)).isEqualTo(0x54445250);
            switch (step) {
                case 0 -> rig.w(STATUS, 1);
                case 1 -> rig.driver.initialize(F0, 2, 8);
                default -> rig.w(STATUS, 0);
            }
        }
    }

    @Test
    @DisplayName("MMIO-07/FEAT-12: DeviceFeatures shows the offer window by window; windows 2, 3 and 0xFFFFFFFF read 0")
    void deviceFeatureWindows() {
        rig.w(DEVICE_FEATURES_SEL, 0);
        assertThat(rig.r(DEVICE_FEATURES)).isEqualTo(0x3000_0004);
        rig.w(DEVICE_FEATURES_SEL, 1);
        assertThat(rig.r(DEVICE_FEATURES)).isEqualTo(0x101);
        for (int sel : new int[] {2, 3, 0xFFFF_FFFF}) {
            rig.w(DEVICE_FEATURES_SEL, sel);
            assertThat(rig.r(DEVICE_FEATURES)).isZero();
        }
    }

    @Test
    @DisplayName("MMIO-08: each DriverFeatures write replaces its window; the negotiated set is the last words written")
    void driverFeatureWindows() {
        rig.w(STATUS, 3);
        rig.w(DRIVER_FEATURES_SEL, 0);
        rig.w(DRIVER_FEATURES, 0x3000_0004);
        rig.w(DRIVER_FEATURES, 0x1000_0000);
        rig.w(DRIVER_FEATURES_SEL, 1);
        rig.w(DRIVER_FEATURES, 1);
        rig.w(STATUS, 0x0B);
        assertThat(rig.r(STATUS)).isEqualTo(0x0B);
        assertThat(rig.device.negotiatedFeatures()).isEqualTo(FeatureSet.of(28, 32));
    }

    @Test
    @DisplayName("MMIO-39/MMIO-47: selectors start at 0 and return to 0 at reset")
    void selectorsResetToZero() {
        assertThat(rig.r(DEVICE_FEATURES)).isEqualTo(0x3000_0004);
        rig.w(DEVICE_FEATURES_SEL, 1);
        rig.w(STATUS, 1);
        rig.w(STATUS, 0);
        assertThat(rig.r(DEVICE_FEATURES)).isEqualTo(0x3000_0004);
    }

    @Test
    @DisplayName("MMIO-09/10/45, HD-03: QueueSel selects; a queue that does not exist reads QueueNumMax 0 and ignores writes")
    void queueSelection() {
        rig.driver.addStatus(1);
        rig.driver.addStatus(2);
        rig.driver.negotiate(ALL);
        rig.w(QUEUE_SEL, 0);
        assertThat(rig.r(QUEUE_NUM_MAX)).isEqualTo(1024);
        rig.w(QUEUE_SEL, 1);
        assertThat(rig.r(QUEUE_NUM_MAX)).isEqualTo(1024);
        for (int q : new int[] {2, 99, 1000, 0xFFFF, -1}) {
            rig.w(QUEUE_SEL, q);
            assertThat(rig.r(QUEUE_NUM_MAX)).as("queue %d", q).isZero();
            rig.w(QUEUE_NUM, 8);
            rig.w(QUEUE_DESC_LOW, 0x4010_0000);
            rig.w(QUEUE_READY, 1);
            rig.w(QUEUE_RESET, 1);
            rig.w(QUEUE_NOTIFY, q);
            assertThat(rig.r(QUEUE_READY)).isZero();
            assertThat(rig.r(QUEUE_RESET)).isZero();
        }
        assertThat(rig.r(STATUS)).isEqualTo(0x0B);
    }

    @Test
    @DisplayName("MMIO-12/MMIO-48: QueueReady reads the last value per queue; no setting bleeds across queues")
    void queueReadyPerQueue() {
        rig.driver.addStatus(1);
        rig.driver.addStatus(2);
        rig.driver.negotiate(F0);
        rig.driver.setupQueue(1, 8);
        rig.w(QUEUE_SEL, 0);
        assertThat(rig.r(QUEUE_READY)).isZero();
        rig.w(QUEUE_SEL, 1);
        assertThat(rig.r(QUEUE_READY)).isEqualTo(1);
        assertThat(rig.device.queueInfo(0).size()).isZero();
        assertThat(rig.device.queueInfo(1).size()).isEqualTo(8);
    }

    @Test
    @DisplayName("MMIO-14/15/23/24/44/49, HD-13: InterruptStatus shows events until acknowledged; the line is asserted iff it is non-zero")
    void interruptStatusAndAcknowledge() {
        List<DriverQueue> queues = rig.driver.initialize(F0, 2, 8);
        assertThat(rig.r(INTERRUPT_STATUS)).isZero();
        queues.get(1).addOutbound("x".getBytes(StandardCharsets.US_ASCII));
        queues.get(1).kick();
        assertThat(rig.driver.awaitInterrupt(5000)).isTrue();
        for (int i = 0; i < 5; i++) {
            assertThat(rig.r(INTERRUPT_STATUS)).isEqualTo(INTERRUPT_USED_RING);
            assertThat(rig.window.interruptAsserted()).isTrue();
        }
        rig.device.resize(100, 40);
        awaitStatus(0x3);
        rig.w(INTERRUPT_STATUS, 0x3);
        assertThat(rig.r(INTERRUPT_STATUS)).as("MMIO-34: writing InterruptStatus acknowledges nothing").isEqualTo(0x3);
        rig.w(INTERRUPT_ACK, 0x1);
        assertThat(rig.r(INTERRUPT_STATUS)).isEqualTo(0x2);
        assertThat(rig.window.interruptAsserted()).isTrue();
        rig.w(INTERRUPT_ACK, 0x1);
        assertThat(rig.r(INTERRUPT_STATUS)).as("acknowledging a bit that is not pending is a no-op").isEqualTo(0x2);
        rig.w(INTERRUPT_ACK, 0xFFFF_FFFF);
        assertThat(rig.r(INTERRUPT_STATUS)).isZero();
        assertThat(rig.window.interruptAsserted()).isFalse();
        assertThat(rig.driver.interruptCount()).isGreaterThanOrEqualTo(1);
        assertThat(rig.window.statistics().interruptsAcknowledged()).isEqualTo(2);
    }

    private void awaitStatus(int bits) {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while ((rig.r(INTERRUPT_STATUS) & bits) != bits) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("InterruptStatus never showed 0x" + Integer.toHexString(bits));
            }
            LockSupport.parkNanos(100_000);
        }
    }

    @Test
    @DisplayName("MMIO-50: buffers used on two queues raise one InterruptStatus bit 0")
    void oneBitForAllQueues() {
        List<DriverQueue> queues = rig.driver.initialize(F0, 2, 8);
        queues.get(0).addInbound(16);
        queues.get(0).kick();
        queues.get(1).addOutbound(new byte[] {1});
        queues.get(1).kick();
        rig.device.inject(new byte[] {2});
        awaitStatus(INTERRUPT_USED_RING);
        rig.driver.awaitCompletions(queues.get(0), 1, 5000);
        rig.driver.awaitCompletions(queues.get(1), 1, 5000);
        assertThat(rig.r(INTERRUPT_STATUS) & ~INTERRUPT_USED_RING).isZero();
    }

    @Test
    @DisplayName("MMIO-17: 64-bit queue addresses with a non-zero high word")
    void addressesAbove4GiB() {
        try (MmioMachine high = new MmioMachine(MmioLayout.DEFAULT, 0x1_0000_0000L, 16 << 20)) {
            ConsoleShapedDevice device = new ConsoleShapedDevice("high");
            MmioDeviceAccess window = high.bind(device);
            VirtioMmioDriver driver = new VirtioMmioDriver(window, new GuestRamAllocator(0x1_0000_0000L, 16 << 20));
            List<DriverQueue> queues = driver.initialize(F0, 2, 8);
            assertThat(queues.get(1).descriptorArea() >>> 32).isEqualTo(1);
            queues.get(1).addOutbound("far".getBytes(StandardCharsets.US_ASCII));
            queues.get(1).kick();
            driver.awaitCompletions(queues.get(1), 1, 5000);
            assertThat(new String(device.output(), StandardCharsets.US_ASCII)).isEqualTo("far");
        }
    }

    @Test
    @DisplayName("MMIO-18/MMIO-20: without shared memory regions every SHM register reads all ones, for any SHMSel")
    void sharedMemoryRegistersForNoRegion() {
        for (int sel : new int[] {0, 255}) {
            rig.w(SHM_SEL, sel);
            assertThat(rig.r(SHM_LEN_LOW)).isEqualTo(-1);
            assertThat(rig.r(SHM_LEN_HIGH)).isEqualTo(-1);
            assertThat(rig.r(SHM_BASE_LOW)).isEqualTo(-1);
            assertThat(rig.r(SHM_BASE_HIGH)).isEqualTo(-1);
        }
        assertThat(rig.r(STATUS)).isZero();
    }

    @Test
    @DisplayName("MMIO-21/26, CFG-04/06, HD-14: ConfigGeneration is stable, changes on a device-side change and the generation loop is consistent")
    void configGeneration() {
        rig.driver.initialize(F0, 2, 8);
        int g0 = rig.r(CONFIG_GENERATION);
        assertThat(rig.r(CONFIG_GENERATION)).isEqualTo(g0);
        rig.device.resize(132, 43);
        int g1 = rig.r(CONFIG_GENERATION);
        assertThat(g1).isNotEqualTo(g0);
        int[] size = rig.driver.readConfigConsistently(() -> new int[] {rig.driver.readConfig(0, 2), rig.driver.readConfig(2, 2)});
        assertThat(size).containsExactly(132, 43);
        awaitStatus(INTERRUPT_CONFIG_CHANGE);
    }

    @Test
    @DisplayName("MMIO-22/MMIO-37, CFG-01: the configuration space answers 8-, 16- and 32-bit accesses little-endian")
    void configAccessWidths() {
        assertThat(rig.window.read(CONFIG, 1)).isEqualTo(80);
        assertThat(rig.window.read(CONFIG + 1, 1)).isZero();
        assertThat(rig.window.read(CONFIG, 2)).isEqualTo(80);
        assertThat(rig.window.read(CONFIG + 2, 2)).isEqualTo(25);
        assertThat(rig.window.read(CONFIG, 4)).isEqualTo(80 | 25 << 16);
        assertThat(rig.window.read(CONFIG + 4, 4)).isEqualTo(1);
        assertThat(rig.window.read(CONFIG + 1, 2)).as("unaligned 16-bit, byte-wise").isEqualTo(25 << 8);
    }

    @Test
    @DisplayName("HD-02/CFG-08: config accesses beyond the space, with width 8 or overflowing, read 0 and are ignored")
    void configOutOfRange() {
        long invalid = rig.window.statistics().invalidAccesses();
        assertThat(rig.window.read(CONFIG + 10, 4)).isZero();
        assertThat(rig.window.read(CONFIG + 12, 1)).isZero();
        assertThat(rig.window.read(CONFIG + 0x1FC, 4)).isZero();
        assertThat(rig.window.read(CONFIG, 8)).isZero();
        assertThat(rig.window.read(0x7FFF_FFFC, 4)).isZero();
        rig.window.write(CONFIG + 12, 4, 0x41);
        rig.window.write(CONFIG + 0x1FC, 4, 0x41);
        assertThat(rig.window.statistics().invalidAccesses()).isEqualTo(invalid + 7);
        assertThat(rig.device.emergencyOutput()).isEmpty();
    }

    @Test
    @DisplayName("MMIO-25/STAT-15/HD-11: a reset clears InterruptStatus and every QueueReady before Status reads 0")
    void resetClearsInterruptsAndQueues() {
        List<DriverQueue> queues = rig.driver.initialize(F0, 2, 8);
        queues.get(1).addOutbound(new byte[] {1});
        queues.get(1).kick();
        awaitStatus(INTERRUPT_USED_RING);
        rig.device.resize(1, 1);
        awaitStatus(0x3);
        rig.w(STATUS, 0);
        assertThat(rig.r(STATUS)).isZero();
        assertThat(rig.r(INTERRUPT_STATUS)).isZero();
        assertThat(rig.window.interruptAsserted()).isFalse();
        for (int q = 0; q < 2; q++) {
            rig.w(QUEUE_SEL, q);
            assertThat(rig.r(QUEUE_READY)).isZero();
        }
    }

    @Test
    @DisplayName("MMIO-28/29/30/31/32, HD-12, VQ-05/06: QueueReset with RING_RESET resets one queue; reads 0 after enable and after reset")
    void queueReset() {
        List<DriverQueue> queues = rig.driver.initialize(ALL, 2, 8);
        for (int q = 0; q < 2; q++) {
            rig.w(QUEUE_SEL, q);
            assertThat(rig.r(QUEUE_RESET)).as("MMIO-29").isZero();
        }
        queues.get(0).addInbound(4);
        queues.get(0).kick();
        settle();
        rig.w(QUEUE_SEL, 0);
        rig.w(QUEUE_RESET, 1);
        assertThat(rig.r(QUEUE_RESET)).isZero();
        assertThat(rig.r(QUEUE_READY)).isZero();
        rig.device.inject(new byte[] {9});
        settle();
        assertThat(queues.get(0).usedIdx()).as("VQ-05: nothing completed after the reset").isZero();
        queues.get(1).addOutbound(new byte[] {7});
        queues.get(1).kick();
        rig.driver.awaitCompletions(queues.get(1), 1, 5000);
        rig.w(QUEUE_RESET, 1);
        rig.w(QUEUE_RESET, 1);
        rig.w(STATUS, 0);
        rig.w(QUEUE_SEL, 1);
        assertThat(rig.r(QUEUE_RESET)).as("MMIO-28").isZero();
    }

    @Test
    @DisplayName("HD-12/VQ-10: QueueReset without RING_RESET does nothing")
    void queueResetWithoutFeature() {
        List<DriverQueue> queues = rig.driver.initialize(F0, 2, 8);
        rig.w(QUEUE_SEL, 1);
        rig.w(QUEUE_RESET, 1);
        assertThat(rig.r(QUEUE_READY)).isEqualTo(1);
        assertThat(rig.r(QUEUE_RESET)).isZero();
        queues.get(1).addOutbound(new byte[] {1});
        queues.get(1).kick();
        rig.driver.awaitCompletions(queues.get(1), 1, 5000);
    }

    @Test
    @DisplayName("MMIO-33/HD-01: undefined offsets read 0 and writes there change nothing")
    void undefinedOffsets() {
        rig.driver.initialize(F0, 2, 8);
        int[] before = snapshot();
        int[] undefined = {0x018, 0x01c, 0x028, 0x02c, 0x03c, 0x040, 0x048, 0x04c, 0x054, 0x058, 0x05c, 0x068, 0x06c,
                0x074, 0x078, 0x07c, 0x088, 0x08c, 0x098, 0x09c, 0x0a8, 0x0c4, 0x0d0, 0x0f8};
        for (int offset : undefined) {
            assertThat(rig.r(offset)).as("0x%x", offset).isZero();
            rig.w(offset, 0xFFFF_FFFF);
        }
        assertThat(snapshot()).isEqualTo(before);
        assertThat(rig.window.statistics().invalidAccesses()).isGreaterThanOrEqualTo(2L * undefined.length);
    }

    @Test
    @DisplayName("MMIO-34/HD-01: writes to read-only registers change nothing")
    void writesToReadOnlyRegisters() {
        rig.driver.initialize(F0, 2, 8);
        int[] before = snapshot();
        for (int offset : new int[] {MAGIC_VALUE, VERSION, DEVICE_ID, VENDOR_ID, DEVICE_FEATURES, QUEUE_NUM_MAX,
                INTERRUPT_STATUS, CONFIG_GENERATION, SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW, SHM_BASE_HIGH}) {
            rig.w(offset, 0x1234_5678);
        }
        assertThat(snapshot()).isEqualTo(before);
    }

    @Test
    @DisplayName("MMIO-35/HD-01: write-only registers read 0; reading QueueNotify does not notify, reading InterruptACK does not acknowledge")
    void readsOfWriteOnlyRegisters() {
        List<DriverQueue> queues = rig.driver.initialize(F0, 2, 8);
        settle(); // The scan at DRIVER_OK (INIT-07) may otherwise take the buffer below without a notification.
        queues.get(1).addOutbound(new byte[] {1});
        for (int offset : new int[] {DEVICE_FEATURES_SEL, DRIVER_FEATURES, DRIVER_FEATURES_SEL, QUEUE_SEL, QUEUE_NUM,
                QUEUE_NOTIFY, INTERRUPT_ACK, QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH,
                QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH, SHM_SEL}) {
            assertThat(rig.r(offset)).as("0x%x", offset).isZero();
        }
        settle();
        assertThat(queues.get(1).usedIdx()).isZero();
        queues.get(1).kick();
        awaitStatus(INTERRUPT_USED_RING);
        rig.r(INTERRUPT_ACK);
        assertThat(rig.r(INTERRUPT_STATUS)).isEqualTo(INTERRUPT_USED_RING);
    }

    @Test
    @DisplayName("MMIO-36/HD-01: narrow or misaligned accesses to control registers are ignored, never partially applied")
    void narrowAndMisalignedAccesses() {
        rig.driver.initialize(F0, 2, 8);
        rig.window.write(STATUS, 1, 0);
        assertThat(rig.r(STATUS)).as("W8 Status=0 does not reset").isEqualTo(0x0F);
        assertThat(rig.window.read(MAGIC_VALUE, 2)).isZero();
        assertThat(rig.window.read(MAGIC_VALUE, 1)).isZero();
        rig.window.write(STATUS + 2, 4, 0);
        rig.window.write(STATUS, 2, 0);
        assertThat(rig.window.read(VERSION + 1, 4)).isZero();
        assertThat(rig.window.read(STATUS, 8)).isZero();
        assertThat(rig.r(STATUS)).isEqualTo(0x0F);
    }

    @Test
    @DisplayName("MMIO-38: an empty slot answers MagicValue and Version, DeviceID 0, and ignores everything else")
    void placeholderSlot() {
        MmioDeviceAccess empty = rig.machine.slot(5);
        assertThat(empty.read(MAGIC_VALUE, 4)).isEqualTo(MAGIC);
        assertThat(empty.read(VERSION, 4)).isEqualTo(2);
        assertThat(empty.read(DEVICE_ID, 4)).isZero();
        empty.write(STATUS, 4, 1);
        assertThat(empty.read(STATUS, 4)).isZero();
        assertThat(rig.machine.read(MmioLayout.DEFAULT.base(5) + DEVICE_ID, 4)).isZero();
        assertThat(rig.machine.read(MmioLayout.DEFAULT.base(0) + DEVICE_ID, 4)).isEqualTo(3);
        assertThat(rig.machine.read(0x1000, 4)).as("outside every window").isZero();
        assertThat(rig.machine.strayAccesses()).isEqualTo(1);
    }

    @Test
    @DisplayName("MMIO-40/HD-04, SPLIT-03: QueueNum above QueueNumMax, 0, or not a power of 2 is refused at QueueReady")
    void invalidQueueNum() {
        rig.driver.addStatus(1);
        rig.driver.addStatus(2);
        rig.driver.negotiate(F0);
        DriverQueue ring = rig.driver.allocateQueue(0, 8);
        for (int num : new int[] {2048, 0, 0x81, 3}) {
            rig.w(QUEUE_SEL, 0);
            rig.w(QUEUE_NUM, num);
            rig.w(QUEUE_DESC_LOW, (int) ring.descriptorArea());
            rig.w(QUEUE_DRIVER_LOW, (int) ring.driverArea());
            rig.w(QUEUE_DEVICE_LOW, (int) ring.deviceArea());
            rig.w(QUEUE_READY, 1);
            assertThat(rig.r(QUEUE_READY)).as("QueueNum %d", num).isZero();
        }
    }

    @Test
    @DisplayName("MMIO-41/HD-08: queue registers written while the queue is ready are ignored; it keeps its latched layout")
    void writesWhileReady() {
        List<DriverQueue> queues = rig.driver.initialize(F0, 2, 8);
        rig.w(QUEUE_SEL, 1);
        rig.w(QUEUE_DESC_LOW, 0xDEAD_0000);
        rig.w(QUEUE_NUM, 2);
        queues.get(1).addOutbound("still".getBytes(StandardCharsets.US_ASCII));
        queues.get(1).kick();
        rig.driver.awaitCompletions(queues.get(1), 1, 5000);
        assertThat(new String(rig.device.output(), StandardCharsets.US_ASCII)).isEqualTo("still");
    }

    @Test
    @DisplayName("MMIO-42/43, CLEAN-04: QueueReady=0 and a read back of 0 mean the device let go; re-enabling starts fresh")
    void queueReadyZeroStopsAccess() {
        List<DriverQueue> queues = rig.driver.initialize(ALL, 2, 8);
        queues.get(0).addInbound(4);
        queues.get(0).kick();
        settle();
        rig.w(QUEUE_SEL, 0);
        rig.w(QUEUE_READY, 0);
        assertThat(rig.r(QUEUE_READY)).isZero();
        rig.device.inject(new byte[] {1});
        settle();
        assertThat(queues.get(0).usedIdx()).isZero();
    }

    @Test
    @DisplayName("MMIO-46/HD-10: QueueReady values other than 0 and 1 are ignored; QueueReady=1 without addresses is refused")
    void queueReadyOddValues() {
        rig.driver.addStatus(1);
        rig.driver.addStatus(2);
        rig.driver.negotiate(F0);
        rig.w(QUEUE_SEL, 0);
        rig.w(QUEUE_NUM, 8);
        rig.w(QUEUE_READY, 1);
        assertThat(rig.r(QUEUE_READY)).as("no addresses written").isZero();
        DriverQueue q = rig.driver.setupQueue(1, 8);
        rig.w(QUEUE_SEL, 1);
        rig.w(QUEUE_READY, 2);
        assertThat(rig.r(QUEUE_READY)).isEqualTo(1);
        rig.w(QUEUE_READY, 1);
        assertThat(rig.r(QUEUE_READY)).isEqualTo(1);
        assertThat(q.size()).isEqualTo(8);
    }

    @Test
    @DisplayName("HD-09: ring areas outside RAM, misaligned, overlapping or on the MMIO window are refused at QueueReady")
    void badRingAddresses() {
        rig.driver.addStatus(1);
        rig.driver.addStatus(2);
        rig.driver.negotiate(F0);
        long ok = rig.ram.allocate(0x3000, 4096);
        long[][] cases = {
                {0, ok + 0x1000, ok + 0x2000},
                {ok + 8, ok + 0x1000, ok + 0x2000},
                {ok, ok + 0x1001, ok + 0x2000},
                {ok, ok + 0x40, ok + 0x2000},
                {ok, ok + 0x1000, MmioLayout.DEFAULT.base(0)},
                {ok, ok + 0x1000, 0xFFFF_FFFF_FFFF_F000L},
        };
        for (long[] c : cases) {
            rig.w(QUEUE_SEL, 0);
            rig.w(QUEUE_NUM, 8);
            rig.w(QUEUE_DESC_LOW, (int) c[0]);
            rig.w(QUEUE_DESC_HIGH, (int) (c[0] >>> 32));
            rig.w(QUEUE_DRIVER_LOW, (int) c[1]);
            rig.w(QUEUE_DRIVER_HIGH, (int) (c[1] >>> 32));
            rig.w(QUEUE_DEVICE_LOW, (int) c[2]);
            rig.w(QUEUE_DEVICE_HIGH, (int) (c[2] >>> 32));
            rig.w(QUEUE_READY, 1);
            assertThat(rig.r(QUEUE_READY)).as("areas %x %x %x", c[0], c[1], c[2]).isZero();
        }
        assertThat(rig.r(STATUS)).isEqualTo(0x0B);
    }

    @Test
    @DisplayName("NOTIF-04/NOTIF-10/HD-05: QueueNotify names a queue; values beyond the queues are ignored, not truncated")
    void queueNotifyWithoutNotificationData() {
        List<DriverQueue> queues = rig.driver.initialize(F0, 2, 8);
        settle(); // Let the scan at DRIVER_OK pass first.
        queues.get(1).addOutbound(new byte[] {1});
        for (int value : new int[] {0xFFFF, 7, 0x0001_0001, -1}) {
            rig.w(QUEUE_NOTIFY, value);
        }
        settle();
        assertThat(queues.get(1).usedIdx()).isZero();
        assertThat(rig.r(STATUS)).isEqualTo(0x0F);
        rig.w(QUEUE_NOTIFY, 1);
        rig.driver.awaitCompletions(queues.get(1), 1, 5000);
    }

    @Test
    @DisplayName("NOTIF-05/NOTIF-09: with NOTIFICATION_DATA the low 16 bits name the queue and the rest is only a hint")
    void queueNotifyWithNotificationData() {
        rig.close();
        try (MmioRig withData = new MmioRig()) {
            withData.machine.unbind("console0");
            ConsoleShapedDevice device = new ConsoleShapedDevice("nd", ConsoleShapedDevice.TRACE_FEATURES.with(38));
            MmioDeviceAccess window = withData.machine.bind(device);
            VirtioMmioDriver driver = new VirtioMmioDriver(window, withData.ram);
            List<DriverQueue> queues = driver.initialize(FeatureSet.of(32, 38), 2, 8);
            queues.get(1).addOutbound(new byte[] {1});
            window.write(QUEUE_NOTIFY, 4, 0x0007_0001);
            driver.awaitCompletions(queues.get(1), 1, 5000);
            queues.get(1).addOutbound(new byte[] {2});
            window.write(QUEUE_NOTIFY, 4, 0x8000_0001);
            driver.awaitCompletions(queues.get(1), 1, 5000);
            assertThat(device.output()).containsExactly(1, 2);
        }
    }

    @Test
    @DisplayName("HD-06/FEAT-07/FEAT-13: selectors beyond the range, unoffered bits or no VERSION_1 make FEATURES_OK fail")
    void badFeatureNegotiation() {
        rig.w(STATUS, 3);
        rig.w(DRIVER_FEATURES_SEL, 1);
        rig.w(DRIVER_FEATURES, 1);
        rig.w(DRIVER_FEATURES_SEL, 5);
        rig.w(DRIVER_FEATURES, 1);
        rig.w(STATUS, 0x0B);
        assertThat(rig.r(STATUS) & DeviceStatus.FEATURES_OK).isZero();
        rig.w(STATUS, 0);
        rig.w(STATUS, 3);
        rig.w(DRIVER_FEATURES_SEL, 0);
        rig.w(DRIVER_FEATURES, 1 << 23);
        rig.w(DRIVER_FEATURES_SEL, 1);
        rig.w(DRIVER_FEATURES, 1);
        rig.w(STATUS, 0x0B);
        assertThat(rig.r(STATUS) & DeviceStatus.FEATURES_OK).isZero();
        rig.w(STATUS, 0);
        rig.w(STATUS, 3);
        rig.w(DRIVER_FEATURES_SEL, 0);
        rig.w(DRIVER_FEATURES, 1 << 28);
        rig.w(STATUS, 0x0B);
        assertThat(rig.r(STATUS)).isEqualTo(0x03);
        rig.w(STATUS, 0x0F);
        assertThat(rig.r(STATUS)).as("FEAT-14: no DRIVER_OK either").isEqualTo(0x03);
    }

    @Test
    @DisplayName("HD-07/STAT-07/08/09/11: out-of-order, clearing, reserved and post-FAILED status writes do not latch")
    void statusOutOfOrder() {
        rig.w(STATUS, 0x04);
        assertThat(rig.r(STATUS)).isZero();
        rig.w(STATUS, 0x13);
        assertThat(rig.r(STATUS)).isEqualTo(0x03);
        rig.w(STATUS, 0x01);
        assertThat(rig.r(STATUS)).isEqualTo(0x03);
        rig.w(STATUS, 0x83);
        rig.w(STATUS, 0x8B);
        rig.w(STATUS, 0x8F);
        assertThat(rig.r(STATUS)).isEqualTo(0x83);
        rig.w(STATUS, 0);
        rig.driver.initialize(F0, 2, 8);
        rig.w(STATUS, 0x0F);
        assertThat(rig.r(STATUS)).as("DRIVER_OK twice").isEqualTo(0x0F);
    }

    @Test
    @DisplayName("INIT-01/02/04/05/06/07/08/09: the initialization sequence as the device sees it")
    void initializationSequence() {
        rig.w(STATUS, 0);
        assertThat(rig.r(STATUS)).isZero();
        rig.w(STATUS, 1);
        assertThat(rig.r(STATUS)).isEqualTo(1);
        rig.w(STATUS, 3);
        assertThat(rig.r(STATUS)).isEqualTo(3);
        rig.w(QUEUE_SEL, 0);
        rig.w(QUEUE_NUM, 8);
        rig.w(QUEUE_READY, 1);
        assertThat(rig.r(QUEUE_READY)).as("INIT-06").isZero();
        assertThat(rig.driver.negotiate(F0)).isTrue();
        for (int i = 0; i < 10; i++) {
            assertThat(rig.r(STATUS)).as("INIT-04").isEqualTo(0x0B);
        }
        DriverQueue rx = rig.driver.setupQueue(0, 8);
        DriverQueue tx = rig.driver.setupQueue(1, 8);
        rx.addInbound(8);
        tx.addOutbound("early".getBytes(StandardCharsets.US_ASCII));
        rig.device.inject("in".getBytes(StandardCharsets.US_ASCII));
        tx.notifyDevice();
        settle();
        assertThat(tx.usedIdx()).as("INIT-08").isZero();
        assertThat(rx.usedIdx()).as("INIT-05").isZero();
        rig.driver.driverOk();
        List<DriverQueue.Completion> out = rig.driver.awaitCompletions(tx, 1, 5000);
        List<DriverQueue.Completion> in = rig.driver.awaitCompletions(rx, 1, 5000);
        assertThat(out.get(0).length()).isZero();
        assertThat(new String(in.get(0).data(), StandardCharsets.US_ASCII)).isEqualTo("in");
        assertThat(new String(rig.device.output(), StandardCharsets.US_ASCII)).isEqualTo("early");
    }

    @Test
    @DisplayName("MMIO-60: legacy-only registers GuestPageSize, QueueAlign, QueuePFN read 0 and are ignored on version 2")
    void legacyRegistersOnVersion2() {
        rig.driver.addStatus(1);
        rig.driver.addStatus(2);
        rig.driver.negotiate(F0);
        rig.w(0x028, 4096);
        rig.w(QUEUE_SEL, 0);
        rig.w(0x03c, 4096);
        rig.w(0x040, 0x1234);
        assertThat(rig.r(0x040)).isZero();
        assertThat(rig.r(QUEUE_READY)).isZero();
    }

    @Test
    @DisplayName("CON-09/CON-10/CFG-09: an emergency-style config write is taken at any state, even on an empty driver")
    void configWriteBeforeInitialization() {
        rig.window.write(CONFIG + 8, 4, 0x0A41);
        rig.window.write(CONFIG + 8, 1, 0x42);
        assertThat(new String(rig.device.emergencyOutput(), StandardCharsets.US_ASCII)).isEqualTo("AB");
        rig.window.write(CONFIG, 2, 1);
        assertThat(rig.window.read(CONFIG, 2)).isEqualTo(80);
    }
}
