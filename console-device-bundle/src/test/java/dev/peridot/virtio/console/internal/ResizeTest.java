package dev.peridot.virtio.console.internal;

import static dev.peridot.virtio.console.internal.SinglePortTest.SINGLE;
import static dev.peridot.virtio.transport.mmio.MmioRegisters.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.console.PortSpec;
import dev.peridot.virtio.console.ResizeOrder;
import dev.peridot.virtio.device.DeviceStatus;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Console size: configuration fields (single port) and RESIZE messages (multiport), both field orders. */
class ResizeTest {

    private ConsoleRig rig;

    @AfterEach
    void close() {
        rig.close();
    }

    @Test
    @DisplayName("CON-17, HD-14, MMIO-26: a host resize of port 0 changes cols/rows, bumps the generation and raises a config interrupt")
    void con17SinglePortResize() {
        rig = ConsoleRig.single();
        rig.guest.bringUp(SINGLE);
        rig.guest.pumpFor(10);
        int gen = rig.driver.configGeneration();
        rig.device.resize(0, 132, 43);
        assertThat(rig.driver.awaitInterrupt(5000)).isTrue();
        assertThat(rig.r(INTERRUPT_STATUS) & INTERRUPT_CONFIG_CHANGE).isNotZero();
        rig.driver.handleInterrupt();
        assertThat(rig.driver.configGeneration()).isNotEqualTo(gen);
        assertThat(rig.driver.readConfig(0, 2)).isEqualTo(132);
        assertThat(rig.driver.readConfig(2, 2)).isEqualTo(43);
        assertThat(rig.device.port(0).orElseThrow().cols()).isEqualTo(132);
        int gen2 = rig.driver.configGeneration();
        rig.device.resize(0, 132, 43); // CFG-06: no change, no new generation
        assertThat(rig.driver.configGeneration()).isEqualTo(gen2);
    }

    @Test
    @DisplayName("OPER-04: a resize while the driver is not live updates the fields without an interrupt; the new driver reads the new size")
    void oper04ResizeAfterReset() {
        rig = ConsoleRig.single();
        rig.guest.bringUp(SINGLE);
        rig.driver.reset();
        rig.device.resize(0, 100, 30);
        assertThat(rig.r(INTERRUPT_STATUS)).isZero();
        assertThat(rig.driver.window().interruptAsserted()).isFalse();
        rig.guest.bringUp(SINGLE);
        assertThat(rig.driver.readConfig(0, 2)).isEqualTo(100);
        assertThat(rig.driver.readConfig(2, 2)).isEqualTo(30);
    }

    @Test
    @DisplayName("CFG-05: the generation loop never sees a mixed size while the host toggles it")
    void cfg05GenerationLoop() throws Exception {
        rig = ConsoleRig.single();
        rig.guest.bringUp(SINGLE);
        AtomicBoolean stop = new AtomicBoolean();
        Thread host = Thread.ofPlatform().start(() -> {
            boolean big = false;
            while (!stop.get()) {
                rig.device.resize(0, big ? 132 : 80, big ? 43 : 25);
                big = !big;
            }
        });
        try {
            for (int i = 0; i < 20_000; i++) {
                int[] size = rig.driver.readConfigConsistently(() -> new int[] {rig.driver.readConfig(0, 2),
                        rig.driver.readConfig(2, 2)});
                assertThat(size[0] == 80 && size[1] == 25 || size[0] == 132 && size[1] == 43)
                        .as("%dx%d", size[0], size[1]).isTrue();
            }
        } finally {
            stop.set(true);
            host.join();
        }
    }

    @Test
    @DisplayName("CON-27: multiport: a console port gets RESIZE {cols, rows} (12 bytes) at PORT_READY and on every resize; other ports do not")
    void con27MultiportResize() {
        rig = ConsoleRig.multiport(4);
        rig.device.addPort(PortSpec.memory(1, "", true));
        rig.device.addPort(PortSpec.memory(2, "org.test.2", false));
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitUntil(() -> rig.guest.messages(1, ConsoleDevice.RESIZE).size() == 1
                && rig.guest.messages(0, ConsoleDevice.RESIZE).size() == 1, "initial RESIZE");
        ConsoleGuest.Message initial = rig.guest.messages(0, ConsoleDevice.RESIZE).get(0);
        assertThat(initial.payload()).hasSize(4);
        assertThat(initial.le16(0)).isEqualTo(80);
        assertThat(initial.le16(2)).isEqualTo(25);
        rig.device.resize(1, 200, 60);
        rig.device.resize(2, 10, 10);
        rig.guest.awaitUntil(() -> rig.guest.ports.get(1).resizeA == 200, "RESIZE port 1");
        assertThat(rig.guest.ports.get(1).resizeB).isEqualTo(60);
        rig.guest.pumpFor(30);
        assertThat(rig.guest.messages(2, ConsoleDevice.RESIZE)).isEmpty();
        int gen = rig.driver.configGeneration();
        rig.device.resize(0, 90, 30); // port 0: RESIZE, and the config fields stay coherent
        rig.guest.awaitUntil(() -> rig.guest.ports.get(0).resizeA == 90, "RESIZE port 0");
        assertThat(rig.driver.configGeneration()).isNotEqualTo(gen);
        assertThat(rig.driver.readConfig(0, 4)).isEqualTo(30 << 16 | 90);
        assertThat(rig.driver.status() & DeviceStatus.DEVICE_NEEDS_RESET).isZero();
    }

    @Test
    @DisplayName("resize_order=rows_cols: older Linux guests get {rows, cols}")
    void rowsColsOrder() {
        rig = new ConsoleRig(ConsoleOptions.multiport("console0", 2).withResizeOrder(ResizeOrder.ROWS_COLS));
        rig.guest.bringUp(ConsoleGuest.LINUX_FEATURES);
        rig.guest.awaitPorts(0);
        rig.device.resize(0, 120, 40);
        rig.guest.awaitUntil(() -> rig.guest.ports.get(0).resizeA == 40, "RESIZE");
        assertThat(rig.guest.ports.get(0).resizeB).isEqualTo(120);
    }
}
