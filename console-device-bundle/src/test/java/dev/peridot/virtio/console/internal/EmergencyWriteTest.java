package dev.peridot.virtio.console.internal;

import static dev.peridot.virtio.console.internal.SinglePortTest.SINGLE;
import static dev.peridot.virtio.console.internal.SinglePortTest.ascii;
import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.console.OverflowPolicy;
import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.feature.FeatureSet;
import dev.peridot.virtio.testkit.DriverQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** emerg_wr (spec 5.3.5): CON-08..CON-11, HD-44, OPER-05. */
class EmergencyWriteTest {

    private ConsoleRig rig = ConsoleRig.single();

    @AfterEach
    void close() {
        rig.close();
    }

    private void emerg(int width, int value) {
        rig.window.write(CONFIG + 8, width, value);
    }

    @Test
    @DisplayName("CON-09, HD-44: emerg_wr is accepted at every status, before DRIVER_OK, after FAILED and in DEVICE_NEEDS_RESET")
    void con09EveryStatus() {
        StringBuilder expected = new StringBuilder();
        char c = 'a';
        emerg(4, c); // power-on, status 0
        expected.append(c++);
        rig.driver.probe();
        rig.driver.reset();
        rig.driver.addStatus(DeviceStatus.ACKNOWLEDGE);
        emerg(4, c);
        expected.append(c++);
        rig.driver.addStatus(DeviceStatus.DRIVER);
        emerg(4, c);
        expected.append(c++);
        rig.driver.writeDriverFeatures(FeatureSet.of(1)); // not acceptable: MULTIPORT not offered, no VERSION_1
        rig.driver.addStatus(DeviceStatus.FEATURES_OK);
        assertThat(rig.driver.status() & DeviceStatus.FEATURES_OK).isZero();
        emerg(4, c); // FEATURES_OK refused
        expected.append(c++);
        rig.driver.reset();
        rig.guest.bringUp(SINGLE);
        assertThat(rig.driver.status()).isEqualTo(0x0F);
        emerg(4, c);
        expected.append(c++);
        DriverQueue tx = rig.guest.queues.get(1);
        tx.setAvailIdx(tx.availIdx() + 1000); // HD-27: corrupt ring -> DEVICE_NEEDS_RESET
        tx.notifyDevice();
        rig.guest.awaitUntil(() -> (rig.driver.status() & DeviceStatus.DEVICE_NEEDS_RESET) != 0, "NEEDS_RESET");
        emerg(4, c);
        expected.append(c++);
        rig.driver.addStatus(DeviceStatus.FAILED);
        emerg(4, c);
        expected.append(c);
        assertThat(new String(rig.device.read(0, 100))).isEqualTo(expected.toString());
        assertThat(rig.device.emergencyBytes()).isEqualTo(expected.length());
    }

    @Test
    @DisplayName("CON-10, CON-11, OPER-05: only the low byte is emitted; 8- and 16-bit writes work; reads are 0; no generation change, no interrupt")
    void con10Con11LowByte() {
        rig.guest.bringUp(SINGLE);
        rig.guest.pumpFor(10);
        int gen = rig.driver.configGeneration();
        emerg(4, 0x00000A41);
        emerg(1, 0x42);
        emerg(2, 0x7743);
        assertThat(rig.driver.readConfig(8, 4)).isZero();
        assertThat(rig.driver.readConfig(8, 1)).isZero();
        assertThat(rig.device.read(0, 10)).isEqualTo(ascii("ABC"));
        assertThat(rig.driver.configGeneration()).isEqualTo(gen);
        assertThat(rig.r(INTERRUPT_STATUS)).isZero();
        emerg(1, 0x44);
        rig.window.write(CONFIG + 9, 1, 0x45); // not emerg_wr's first byte: ignored
        rig.window.write(CONFIG + 0, 2, 1); // CFG-09: read-only field, ignored
        assertThat(rig.device.read(0, 10)).isEqualTo(ascii("D"));
        assertThat(rig.driver.readConfig(0, 2)).isEqualTo(80);
    }

    @Test
    @DisplayName("CON-11, HD-44, CFG-07: without EMERG_WRITE a write to emerg_wr emits nothing")
    void hd44WithoutFeature() {
        rig.close();
        rig = new ConsoleRig(ConsoleOptions.defaults("console0").withFeatures(true, false));
        emerg(4, 0x41);
        rig.guest.bringUp(SINGLE);
        emerg(4, 0x42);
        assertThat(rig.device.read(0, 10)).isEmpty();
        assertThat(rig.device.emergencyBytes()).isZero();
    }

    @Test
    @DisplayName("emergency bytes keep their order with port 0's output; a full back-pressure buffer drops and counts them")
    void emergencyOrderAndDrops() {
        rig.close();
        rig = new ConsoleRig(ConsoleOptions.defaults("console0").withPort0(PortSpec.memory(0, "", true).withBuffers(1024, 8)));
        rig.guest.bringUp(SINGLE);
        rig.guest.write(0, ascii("12345"));
        rig.guest.awaitUntil(() -> rig.device.port(0).orElseThrow().bytesFromGuest() == 5, "output");
        emerg(1, '!');
        emerg(1, '?');
        emerg(1, '#');
        emerg(1, '%'); // 9th byte: the 8-byte buffer is full
        assertThat(rig.device.read(0, 10)).isEqualTo(ascii("12345!?#"));
        assertThat(rig.device.port(0).orElseThrow().emergencyDrops()).isEqualTo(1);
    }

    @Test
    @DisplayName("emergency write with drop-oldest never drops the new byte")
    void emergencyDropOldest() {
        rig.close();
        rig = new ConsoleRig(ConsoleOptions.defaults("console0").withPort0(PortSpec.memory(0, "", true).withBuffers(1024, 4)
                .withOverflow(OverflowPolicy.DROP_OLDEST)));
        for (char c : "abcdef".toCharArray()) {
            emerg(1, c);
        }
        assertThat(rig.device.read(0, 10)).isEqualTo(ascii("cdef"));
        assertThat(rig.device.port(0).orElseThrow().droppedBytes()).isEqualTo(2);
    }
}
