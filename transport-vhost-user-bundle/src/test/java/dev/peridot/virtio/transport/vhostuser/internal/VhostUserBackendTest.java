package dev.peridot.virtio.transport.vhostuser.internal;

import dev.peridot.virtio.testing.DriverRing;
import dev.peridot.virtio.testing.Await;

import static dev.peridot.virtio.transport.vhostuser.internal.TestFrontEnd.*;
import static dev.peridot.virtio.transport.vhostuser.internal.VhostUserProtocol.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.peridot.virtio.defaults.DefaultConfigOperations;
import dev.peridot.virtio.device.DeviceStatus;
import dev.peridot.virtio.queue.SplitRing;
import dev.peridot.virtio.transport.vhostuser.VhostUserBackend;
import dev.peridot.virtio.transport.vhostuser.VhostUserDevice;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The back-end over a real Unix socket, with {@link TestFrontEnd} playing QEMU: the protocol
 * end to end without QEMU, and what happens when the front-end misbehaves.
 */
class VhostUserBackendTest {

    private static final long FEATURES = (1L << 32) | (1L << F_PROTOCOL_FEATURES);

    @TempDir
    Path dir;
    private PatternDevice device;
    private VhostUserBackend backend;
    private String socket;

    @BeforeEach
    void start() throws Exception {
        device = new PatternDevice("pattern0");
        socket = dir.resolve("pattern0.sock").toString();
        backend = VhostUserBackend.start(Path.of(socket),
                new VhostUserDevice(new DefaultConfigOperations(device), device, device));
    }

    @AfterEach
    void stop() {
        backend.close();
    }

    /** Posts one writable buffer on ring q; returns its guest address. */
    private static long post(TestFrontEnd fe, int q, int length) {
        long buf = fe.buffer(length);
        fe.rings[q].post(DriverRing.Buffer.writable(buf, length));
        return buf;
    }

    @Test
    void offersVersion1AndTheProtocolFeaturesBitAndOnlyImplementedProtocolFeatures() throws Exception {
        try (TestFrontEnd fe = new TestFrontEnd(socket)) {
            fe.send(GET_FEATURES, new byte[0]);
            long features = fe.replyU64(GET_FEATURES);
            assertThat(features).isEqualTo((1L << 32) | (1L << 28) | (1L << 29) | (1L << F_PROTOCOL_FEATURES));
            fe.send(GET_PROTOCOL_FEATURES, new byte[0]);
            assertThat(fe.replyU64(GET_PROTOCOL_FEATURES)).isEqualTo(SUPPORTED_PROTOCOL_FEATURES);
            fe.send(SET_PROTOCOL_FEATURES, u64(SUPPORTED_PROTOCOL_FEATURES));
            fe.send(GET_QUEUE_NUM, new byte[0]);
            assertThat(fe.replyU64(GET_QUEUE_NUM)).isEqualTo(2);
        }
    }

    @Test
    void qemuSequenceFillsBuffersAndSignalsTheCallEventfd() throws Exception {
        try (TestFrontEnd fe = new TestFrontEnd(socket)) {
            fe.handshake();
            fe.startRing(0, FEATURES, 0);
            assertThat(device.status()).isEqualTo(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER
                    | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
            assertThat(device.negotiatedFeatures().low()).isEqualTo(1L << 32); // bit 30 stays with the transport
            long a = post(fe, 0, 64);
            fe.kick(0);
            assertThat(fe.awaitCall(0, 5_000)).isTrue();
            Await.until(() -> fe.rings[0].usedIdx() == 1, "used idx 1");
            assertThat(fe.rings[0].usedEntry(0).length()).isEqualTo(64);
            assertThat(fe.read(a, 64)).isEqualTo(PatternDevice.pattern(0, 64));
        }
    }

    @Test
    void kickThatArrivesBeforeTheRingIsEnabledIsNotLost() throws Exception {
        try (TestFrontEnd fe = new TestFrontEnd(socket)) {
            fe.handshake();
            fe.send(SET_FEATURES, u64(FEATURES));
            assertThat(fe.sendAcked(SET_MEM_TABLE, fe.ramTable(), fe.memFd)).isZero();
            fe.send(SET_VRING_NUM, state(0, RING_SIZE));
            fe.send(SET_VRING_BASE, state(0, 0));
            fe.send(SET_VRING_ADDR, fe.vringAddr(0));
            post(fe, 0, 32);
            fe.kick(0); // QEMU hands the kick eventfd over already signalled
            fe.send(SET_VRING_KICK, u64(0), fe.kickFds[0]);
            Await.settle();
            assertThat(fe.rings[0].usedIdx()).as("a disabled ring is never processed").isZero();
            assertThat(fe.sendAcked(SET_VRING_ENABLE, state(0, 1))).isZero();
            Await.until(() -> fe.rings[0].usedIdx() == 1, "the ring is scanned when it is enabled");
        }
    }

    @Test
    void withoutProtocolFeaturesTheRingRunsOnceItsKickArrives() throws Exception {
        try (TestFrontEnd fe = new TestFrontEnd(socket)) {
            fe.send(SET_OWNER, new byte[0]);
            fe.send(SET_FEATURES, u64(1L << 32));
            fe.send(SET_MEM_TABLE, fe.ramTable(), fe.memFd);
            fe.send(SET_VRING_NUM, state(0, RING_SIZE));
            fe.send(SET_VRING_ADDR, fe.vringAddr(0));
            fe.send(SET_VRING_CALL, u64(0), fe.callFds[0]);
            post(fe, 0, 16);
            fe.send(SET_VRING_KICK, u64(0), fe.kickFds[0]);
            assertThat(fe.awaitCall(0, 5_000)).isTrue();
            assertThat(fe.rings[0].usedIdx()).isEqualTo(1);
        }
    }

    @Test
    void getVringBaseStopsTheRingKeepsItsPositionAndARestartResumes() throws Exception {
        try (TestFrontEnd fe = new TestFrontEnd(socket)) {
            fe.handshake();
            fe.startRing(0, FEATURES, 0);
            for (int i = 0; i < 3; i++) {
                post(fe, 0, 8);
            }
            fe.kick(0);
            Await.until(() -> fe.rings[0].usedIdx() == 3, "3 used");
            assertThat(fe.stopRing(0)).isEqualTo(3);
            post(fe, 0, 8);
            fe.kick(0);
            Await.settle();
            assertThat(fe.rings[0].usedIdx()).as("stopped ring untouched").isEqualTo(3);
            assertThat(device.isQueueReady(0)).isFalse();
            // Restart from where it stopped, as QEMU does after GET_VRING_BASE.
            fe.send(SET_VRING_BASE, state(0, 3));
            fe.send(SET_VRING_KICK, u64(0), fe.kickFds[0]);
            assertThat(fe.sendAcked(SET_VRING_ENABLE, state(0, 1))).isZero();
            Await.until(() -> fe.rings[0].usedIdx() == 4, "the 4th buffer after the restart");
            assertThat(fe.rings[0].usedEntry(3).id()).isEqualTo(3);
        }
    }

    @Test
    void guestResetAndReinitialisationWithNewRingAddresses() throws Exception {
        try (TestFrontEnd fe = new TestFrontEnd(socket)) {
            fe.handshake();
            fe.startRing(0, FEATURES, 0);
            post(fe, 0, 8);
            fe.kick(0);
            Await.until(() -> fe.rings[0].usedIdx() == 1, "1 used");
            fe.stopRing(0);
            long resetsBefore = device.statistics().resets();
            // The guest driver re-initialises with a fresh, zeroed ring elsewhere.
            fe.rings[0] = DriverRing.at(fe.ram, RING_SIZE, RAM_GPA + 0x3_0000L);
            fe.startRing(0, FEATURES, 0);
            post(fe, 0, 8);
            fe.kick(0);
            Await.until(() -> fe.rings[0].usedIdx() == 1, "1 used on the new ring");
            assertThat(device.statistics().resets()).as("SET_FEATURES after the stop resets the device")
                    .isEqualTo(resetsBefore + 1);
        }
    }

    @Test
    void newMemoryTableWhileRingsRunStopsAndResumesThemInPlace() throws Exception {
        try (TestFrontEnd fe = new TestFrontEnd(socket)) {
            fe.handshake();
            fe.startRing(0, FEATURES, 0);
            fe.send(SET_VRING_NUM, state(1, RING_SIZE));
            fe.send(SET_VRING_BASE, state(1, 0));
            fe.send(SET_VRING_ADDR, fe.vringAddr(1));
            fe.send(SET_VRING_KICK, u64(1), fe.kickFds[1]);
            assertThat(fe.sendAcked(SET_VRING_ENABLE, state(1, 1))).isZero();
            post(fe, 0, 8);
            post(fe, 1, 8);
            fe.kick(0);
            fe.kick(1);
            Await.until(() -> fe.rings[0].usedIdx() == 1 && fe.rings[1].usedIdx() == 1, "both rings used");
            // Memory hot-plug style: the same RAM again plus a second region.
            byte[] table = memTable(RAM_GPA, RAM_SIZE, USER_BASE, 0, 0x1_0000_0000L, 0x1000, USER_BASE + RAM_SIZE, 0);
            assertThat(fe.sendAcked(SET_MEM_TABLE, table, fe.memFd, fe.memFd)).isZero();
            assertThat(device.isQueueReady(0) && device.isQueueReady(1)).as("restarted over the new table").isTrue();
            post(fe, 0, 8);
            fe.kick(0);
            Await.until(() -> fe.rings[0].usedIdx() == 2, "ring 0 continues where it was");
            assertThat(fe.rings[0].usedEntry(1).id()).isEqualTo(1);
        }
    }

    @Test
    void closingTheBackendWhileAFrontEndIsConnectedEndsTheConnectionAndDetaches() throws Exception {
        try (TestFrontEnd fe = new TestFrontEnd(socket)) {
            fe.handshake();
            fe.startRing(0, FEATURES, 0);
            long start = System.nanoTime();
            backend.close();
            assertThat((System.nanoTime() - start) / 1_000_000).as("close does not hang on a silent front-end")
                    .isLessThan(5_000);
            assertThat(device.isAttached()).isFalse();
            assertThat(fe.closedByBackend(5_000)).isTrue();
            assertThat(Files.exists(Path.of(socket))).isFalse();
        }
    }

    @Test
    void configSpaceThroughGetConfig() throws Exception {
        try (TestFrontEnd fe = new TestFrontEnd(socket)) {
            fe.handshake();
            byte[] request = ByteBuffer.allocate(12 + 12).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0).putInt(4, 12).array();
            fe.send(GET_CONFIG, request);
            ByteBuffer reply = fe.reply(GET_CONFIG);
            assertThat(reply.getInt(4)).isEqualTo(12);
            assertThat(reply.getInt(12)).isEqualTo(0x11223344);
            assertThat(reply.getInt(16)).isEqualTo(0x55667788);
            assertThat(reply.getInt(20)).as("beyond the 8-byte space").isZero();
        }
    }

    @Test
    void frontEndKilledMidIoThenTheNextConnectionWorks() throws Exception {
        TestFrontEnd first = new TestFrontEnd(socket);
        first.handshake();
        first.startRing(0, FEATURES, 0);
        for (int i = 0; i < 10; i++) {
            post(first, 0, 4096);
        }
        first.kick(0);
        first.disconnect();
        Await.until(() -> !backend.isConnected() && backend.connectionsAccepted() == 1, "connection 1 cleaned up");
        Await.until(() -> device.status() == 0, "device reset after the disconnect");
        first.close();
        try (TestFrontEnd second = new TestFrontEnd(socket)) {
            second.handshake();
            second.startRing(0, FEATURES, 0);
            long a = post(second, 0, 16);
            second.kick(0);
            assertThat(second.awaitCall(0, 5_000)).isTrue();
            assertThat(second.read(a, 16)).hasSize(16);
            assertThat(backend.connectionsAccepted()).isEqualTo(2);
        }
    }

    /** HD-23: a descriptor outside guest memory gets the spec's answer (DEVICE_NEEDS_RESET), not a dead back-end. */
    @Test
    void hd23DescriptorOutsideGuestMemoryNeedsResetAndTheConnectionStays() throws Exception {
        try (TestFrontEnd fe = new TestFrontEnd(socket)) {
            fe.handshake();
            fe.startRing(0, FEATURES, 0);
            fe.rings[0].post(DriverRing.Buffer.writable(RAM_GPA + RAM_SIZE - 8, 64)); // spans the end of RAM
            fe.kick(0);
            Await.until(() -> (device.status() & DeviceStatus.DEVICE_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET");
            assertThat(fe.awaitError(0, 5_000)).as("the error eventfd tells QEMU").isTrue();
            assertThat(fe.rings[0].usedIdx()).isZero();
            assertThat(fe.read(RAM_GPA + RAM_SIZE - 8, 8)).as("no partial write").containsOnly(0);
            // The guest resets and starts again: the device works.
            fe.stopRing(0);
            fe.rings[0] = DriverRing.at(fe.ram, RING_SIZE, RAM_GPA + 0x3_0000L);
            fe.startRing(0, FEATURES, 0);
            post(fe, 0, 8);
            fe.kick(0);
            Await.until(() -> fe.rings[0].usedIdx() == 1, "used after the reset");
            assertThat(backend.isConnected()).isTrue();
        }
    }

    /** HD-24: a 4 GiB-long descriptor gets DEVICE_NEEDS_RESET, with no big allocation. */
    @Test
    void hd24HugeDescriptorLengthNeedsReset() throws Exception {
        try (TestFrontEnd fe = new TestFrontEnd(socket)) {
            fe.handshake();
            fe.startRing(0, FEATURES, 0);
            fe.rings[0].writeDescriptor(0, RAM_GPA + 0x20_0000L, 0xFFFF_FFFF, SplitRing.DESC_F_WRITE, 0);
            fe.rings[0].publish(0);
            fe.kick(0);
            Await.until(() -> (device.status() & DeviceStatus.DEVICE_NEEDS_RESET) != 0, "DEVICE_NEEDS_RESET");
            assertThat(backend.isConnected()).isTrue();
        }
    }

    /** HD-04 through vhost-user: a ring size the device cannot use is refused by the device; the connection stays. */
    @Test
    void ringSizeThatIsNotAPowerOfTwoIsRefusedByTheDeviceNotTheConnection() throws Exception {
        try (TestFrontEnd fe = new TestFrontEnd(socket)) {
            fe.handshake();
            fe.send(SET_FEATURES, u64(FEATURES));
            fe.sendAcked(SET_MEM_TABLE, fe.ramTable(), fe.memFd);
            fe.send(SET_VRING_NUM, state(0, 100));
            fe.send(SET_VRING_ADDR, fe.vringAddr(0));
            fe.send(SET_VRING_KICK, u64(0), fe.kickFds[0]);
            assertThat(fe.sendAcked(SET_VRING_ENABLE, state(0, 1))).isZero();
            assertThat(device.isQueueReady(0)).isFalse();
            fe.send(GET_FEATURES, new byte[0]);
            assertThat(fe.replyU64(GET_FEATURES)).isNotZero();
        }
    }

    // ---------------------------------------------------------------- protocol errors close the connection

    private void assertClosedThenUsable(TestFrontEnd fe) throws Exception {
        assertThat(fe.closedByBackend(5_000)).as("the back-end closes the connection").isTrue();
        fe.close();
        Await.until(() -> !backend.isConnected(), "cleaned up");
        assertThat(backend.protocolErrors()).isEqualTo(1);
        assertThat(backend.lastDisconnectReason()).hasValueSatisfying(r -> assertThat(r).startsWith("protocol error"));
        try (TestFrontEnd next = new TestFrontEnd(socket)) {
            next.handshake();
            next.startRing(0, FEATURES, 0);
            post(next, 0, 8);
            next.kick(0);
            assertThat(next.awaitCall(0, 5_000)).as("the next connection works").isTrue();
        }
    }

    @Test
    void badVersionInTheHeader() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.send(GET_FEATURES, 0x2, new byte[0]);
        assertClosedThenUsable(fe);
    }

    @Test
    void oversizedPayloadIsNotRead() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.send(SET_FEATURES, new byte[MAX_PAYLOAD + 1]);
        assertClosedThenUsable(fe);
    }

    @Test
    void payloadOfTheWrongSizeForItsRequest() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.send(SET_VRING_NUM, new byte[4]);
        assertClosedThenUsable(fe);
    }

    @Test
    void tooManyDescriptors() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        int[] nine = new int[9];
        java.util.Arrays.fill(nine, fe.memFd);
        fe.send(SET_MEM_TABLE, fe.ramTable(), nine);
        assertClosedThenUsable(fe);
    }

    @Test
    void descriptorOnARequestThatTakesNone() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.send(SET_OWNER, new byte[0], fe.memFd);
        assertClosedThenUsable(fe);
    }

    @Test
    void overlappingMemoryRegionsWithReplyAckFailure() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.handshake();
        byte[] table = memTable(RAM_GPA, RAM_SIZE, USER_BASE, 0, RAM_GPA + 0x1000, 0x1000, USER_BASE + RAM_SIZE, 0);
        assertThat(fe.sendAcked(SET_MEM_TABLE, table, fe.memFd, fe.memFd)).as("REPLY_ACK reports the failure").isNotZero();
        assertClosedThenUsable(fe);
    }

    /**
     * HD-23 for the memory table itself. Found by fuzz-tests (VhostUserMessageFuzzTest, input
     * mem-table-region-beyond-end-of-file-kills-connection-thread): with ring 0 running, a table whose region starts
     * at the end of the memfd was mapped (mmap allows that), the ring restarted over it and read its used ring
     * through the mapping beyond the end of the file: SIGBUS, an InternalError, and the back-end's connection
     * thread died, so no front-end could connect any more.
     */
    @Test
    void memoryRegionBeyondTheEndOfItsFileIsRefused() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.handshake();
        fe.startRing(0, FEATURES, 0);
        fe.send(SET_MEM_TABLE, memTable(RAM_GPA, RAM_SIZE, USER_BASE, RAM_SIZE), fe.memFd);
        assertClosedThenUsable(fe);
    }

    /**
     * A front-end that shrinks its memory file after SET_MEM_TABLE was accepted: the back-end's next access to
     * the ring faults (SIGBUS, an InternalError in Java) in the worker and in the connection thread. Neither may
     * die: the connection ends, and the next front-end is served.
     */
    @Test
    void memoryFileShrunkAfterTheTableWasAccepted() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.handshake();
        fe.startRing(0, FEATURES, 0);
        fe.shrinkMemoryFile(0);
        fe.kick(0); // the worker reads the avail ring
        fe.send(SET_VRING_ENABLE, state(0, 0));
        fe.send(GET_VRING_BASE, state(0, 0));
        fe.send(SET_VRING_BASE, state(0, 0));
        fe.send(SET_VRING_ADDR, fe.vringAddr(0)); // the connection thread reads the used ring when the ring restarts
        fe.send(SET_VRING_KICK, u64(0), fe.kickFds[0]);
        fe.send(SET_VRING_ENABLE, state(0, 1));
        assertThat(fe.closedByBackend(5_000)).as("the back-end ends the connection").isTrue();
        fe.close();
        Await.until(() -> !backend.isConnected(), "cleaned up");
        try (TestFrontEnd next = new TestFrontEnd(socket)) {
            next.handshake();
            next.startRing(0, FEATURES, 0);
            post(next, 0, 8);
            next.kick(0);
            assertThat(next.awaitCall(0, 5_000)).as("the next connection works").isTrue();
        }
    }

    @Test
    void memoryRegionLargerThanItsFileIsRefused() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.handshake();
        fe.send(SET_MEM_TABLE, memTable(RAM_GPA, 2 * RAM_SIZE, USER_BASE, 0), fe.memFd);
        assertClosedThenUsable(fe);
    }

    /**
     * Found by fuzz-tests (VhostUserMessageFuzzTest, input kick-descriptor-not-an-eventfd-makes-the-kick-thread-spin):
     * the front-end's memfd as a ring's kick descriptor. A regular file is always readable, so the kick thread's
     * poll loop never blocked again: 100% of a CPU for as long as the connection lasted.
     */
    @Test
    void kickDescriptorThatIsNotAnEventfdIsRefused() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.handshake();
        fe.send(SET_VRING_KICK, u64(1), fe.memFd);
        assertClosedThenUsable(fe);
    }

    @Test
    void ringAddressNoRegionTranslates() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.handshake();
        fe.send(SET_FEATURES, u64(FEATURES));
        fe.sendAcked(SET_MEM_TABLE, fe.ramTable(), fe.memFd);
        fe.send(SET_VRING_NUM, state(0, RING_SIZE));
        byte[] addr = fe.vringAddr(0);
        ByteBuffer.wrap(addr).order(ByteOrder.LITTLE_ENDIAN).putLong(16, RAM_GPA + 0x1000); // a guest address, not a user one
        fe.send(SET_VRING_ADDR, addr);
        assertClosedThenUsable(fe);
    }

    @Test
    void outOfOrderRingAddressBeforeAnyMemoryTable() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.handshake();
        fe.send(SET_VRING_NUM, state(0, RING_SIZE));
        fe.send(SET_VRING_ADDR, fe.vringAddr(0));
        assertClosedThenUsable(fe);
    }

    @Test
    void outOfOrderRingSizeChangeWhileRunning() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.handshake();
        fe.startRing(0, FEATURES, 0);
        fe.send(SET_VRING_NUM, state(0, 128));
        assertClosedThenUsable(fe);
    }

    @Test
    void ringIndexBeyondTheDevicesQueues() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.send(SET_VRING_CALL, u64(5), fe.callFds[0]);
        assertClosedThenUsable(fe);
    }

    @Test
    void featuresThatWereNeverOffered() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.handshake();
        fe.send(SET_FEATURES, u64(FEATURES | (1L << 40)));
        assertClosedThenUsable(fe);
    }

    @Test
    void requestWhoseFeatureWasNeverOffered() throws Exception {
        TestFrontEnd fe = new TestFrontEnd(socket);
        fe.send(37 /* ADD_MEM_REG without CONFIGURE_MEM_SLOTS */, new byte[40], fe.memFd);
        assertClosedThenUsable(fe);
    }

    @Test
    void staleSocketFileIsReplacedButALiveOneIsNot() throws Exception {
        Path stale = dir.resolve("stale.sock");
        int fd = Native.listenUnix(stale.toString());
        Native.closeQuietly(fd); // the file stays, nobody listens
        assertThat(Files.exists(stale)).isTrue();
        PatternDevice other = new PatternDevice("other");
        try (VhostUserBackend b = VhostUserBackend.start(stale, new VhostUserDevice(new DefaultConfigOperations(other), other, other))) {
            assertThat(b.socketPath()).isEqualTo(stale.toAbsolutePath());
            PatternDevice third = new PatternDevice("third");
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> VhostUserBackend.start(stale,
                    new VhostUserDevice(new DefaultConfigOperations(third), third, third)))
                    .hasMessageContaining("in use");
        }
        assertThat(Files.exists(stale)).as("removed on close").isFalse();
    }
}
