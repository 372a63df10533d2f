package dev.peridot.virtio.device;

import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.testing.Await;
import dev.peridot.virtio.testing.Rig;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The device-specific configuration space and its generation (spec 2.5, 3.2.1). */
class ConfigSpaceTest {

    private final Rig rig = Rig.standard();

    @AfterEach
    void close() {
        rig.close();
    }

    @Test
    @DisplayName("CFG-01/MMIO-37: fields read little-endian with 1, 2 and 4 byte accesses")
    void littleEndianAccessWidths() {
        assertThat(rig.device.readConfig(0, 4)).isEqualTo(0x11223344);
        assertThat(rig.device.readConfig(0, 1)).isEqualTo(0x44);
        assertThat(rig.device.readConfig(1, 2)).isEqualTo(0x2233);
        assertThat(rig.device.readConfig(3, 1)).isEqualTo(0x11);
    }

    @Test
    @DisplayName("CFG-08/HD-02: accesses beyond the space, with bad widths or overflowing offsets read 0 and are ignored")
    void outOfRangeAccesses() {
        assertThat(rig.device.readConfig(6, 4)).isZero();
        assertThat(rig.device.readConfig(8, 1)).isZero();
        assertThat(rig.device.readConfig(0, 8)).isZero();
        assertThat(rig.device.readConfig(0, 3)).isZero();
        assertThat(rig.device.readConfig(-4, 4)).isZero();
        assertThat(rig.device.readConfig(Integer.MAX_VALUE - 1, 4)).isZero();
        int generation = rig.device.configGeneration();
        rig.device.writeConfig(0, 4, 0);
        rig.device.writeConfig(100, 4, 0);
        assertThat(rig.device.readConfig(0, 4)).isEqualTo(0x11223344);
        assertThat(rig.device.configGeneration()).isEqualTo(generation);
        assertThat(rig.device.statistics().configAccessesOutOfRange()).isEqualTo(7);
    }

    @Test
    @DisplayName("CFG-04/OPER-02/MMIO-26: a device-side change bumps the generation and notifies a live driver")
    void changeBumpsGenerationAndNotifies() {
        rig.bringUp(Rig.VERSION_1, 8);
        int g0 = rig.device.configGeneration();
        rig.device.setConfigWord(42);
        assertThat(rig.device.configGeneration()).isNotEqualTo(g0);
        assertThat(rig.device.readConfig(4, 4)).isEqualTo(42);
        Await.until(() -> rig.transport.configNotifications.get() == 1, "config notification");
    }

    @Test
    @DisplayName("CFG-06: the generation does not change when nothing changed")
    void generationIsStable() {
        int g = rig.device.configGeneration();
        for (int i = 0; i < 10_000; i++) {
            assertThat(rig.device.configGeneration()).isEqualTo(g);
        }
        rig.device.setConfigWord(0);
        assertThat(rig.device.configGeneration()).as("writing the same value is no change").isEqualTo(g);
    }

    @Test
    @DisplayName("CFG-05: the driver's generation loop never sees a mix of two versions")
    void generationLoopIsSound() throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        Thread host = new Thread(() -> {
            int i = 0;
            while (!stop.get()) {
                int v = (i++ & 1) == 0 ? 0x00500019 : 0x0084002B;
                rig.device.setConfigWord(v);
            }
        });
        host.start();
        int consistent = 0;
        try {
            for (int i = 0; i < 200_000; i++) {
                int g0 = rig.device.configGeneration();
                int cols = rig.device.readConfig(4, 2);
                int rows = rig.device.readConfig(6, 2);
                int g1 = rig.device.configGeneration();
                if (g0 == g1) {
                    consistent++;
                    int pair = (rows << 16) | cols;
                    assertThat(pair).isIn(0, 0x00500019, 0x0084002B);
                }
            }
        } finally {
            stop.set(true);
            host.join();
        }
        assertThat(consistent).isPositive();
    }

    @Test
    @DisplayName("OPER-04: a change while the driver initializes is notified at DRIVER_OK; with no driver, not at all")
    void notificationIsDeferredUntilDriverOk() {
        rig.device.setConfigWord(1);
        rig.negotiate(Rig.VERSION_1);
        rig.device.setConfigWord(2);
        Await.settle();
        assertThat(rig.transport.configNotifications.get()).isZero();
        rig.bringUp(Rig.VERSION_1, 8);
        Await.until(() -> rig.transport.configNotifications.get() == 1, "deferred notification");
        Await.settle();
        assertThat(rig.transport.configNotifications.get()).isEqualTo(1);
    }

    @Test
    @DisplayName("HD-14: the generation never goes backwards, also across resets")
    void generationIsMonotonicAcrossReset() {
        rig.bringUp(Rig.VERSION_1, 8);
        rig.device.setConfigWord(5);
        int g = rig.device.configGeneration();
        rig.device.writeStatus(0);
        assertThat(rig.device.configGeneration()).isEqualTo(g);
        rig.device.setConfigWord(6);
        assertThat(rig.device.configGeneration()).isGreaterThan(g);
    }

    @Test
    @DisplayName("CFG-09/CFG-10: driver writes to read-only fields are ignored at any time")
    void driverWritesToReadOnlyFields() {
        rig.device.writeStatus(0x03);
        rig.device.writeConfig(0, 2, 1);
        assertThat(rig.device.readConfig(0, 4)).isEqualTo(0x11223344);
    }
}
