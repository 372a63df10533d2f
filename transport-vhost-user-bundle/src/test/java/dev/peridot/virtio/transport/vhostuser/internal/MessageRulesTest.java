package dev.peridot.virtio.transport.vhostuser.internal;

import static dev.peridot.virtio.transport.vhostuser.internal.VhostUserProtocol.*;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** The shape rules every request is checked against before a handler sees it. */
class MessageRulesTest {

    private static Message message(int request, byte[] payload, int fds) {
        int[] descriptors = new int[fds];
        java.util.Arrays.fill(descriptors, -1); // nothing real to close
        return new Message(request, VERSION, payload, descriptors);
    }

    private static byte[] u64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, v).array();
    }

    @Test
    void headerVersionFlagsAndSize() {
        assertThatCode(() -> MessageRules.checkHeader(GET_FEATURES, VERSION, 0)).doesNotThrowAnyException();
        assertThatCode(() -> MessageRules.checkHeader(SET_MEM_TABLE, VERSION | FLAG_NEED_REPLY, 264)).doesNotThrowAnyException();
        assertThatThrownBy(() -> MessageRules.checkHeader(GET_FEATURES, 0, 0)).hasMessageContaining("version");
        assertThatThrownBy(() -> MessageRules.checkHeader(GET_FEATURES, 2, 0)).hasMessageContaining("version");
        assertThatThrownBy(() -> MessageRules.checkHeader(GET_FEATURES, VERSION | 0x10, 0)).hasMessageContaining("reserved");
        assertThatThrownBy(() -> MessageRules.checkHeader(GET_FEATURES, VERSION | FLAG_REPLY, 0)).hasMessageContaining("reply");
        assertThatThrownBy(() -> MessageRules.checkHeader(SET_CONFIG, VERSION, MAX_PAYLOAD + 1)).hasMessageContaining("exceeds");
        assertThatThrownBy(() -> MessageRules.checkHeader(SET_CONFIG, VERSION, -1)).hasMessageContaining("4294967295");
    }

    @Test
    void payloadSizesPerRequest() {
        assertThatCode(() -> MessageRules.checkMessage(message(SET_FEATURES, u64(1), 0))).doesNotThrowAnyException();
        assertThatThrownBy(() -> MessageRules.checkMessage(message(SET_FEATURES, new byte[4], 0))).hasMessageContaining("expected 8");
        assertThatThrownBy(() -> MessageRules.checkMessage(message(GET_FEATURES, new byte[8], 0))).hasMessageContaining("expected 0");
        assertThatThrownBy(() -> MessageRules.checkMessage(message(SET_VRING_ADDR, new byte[32], 0))).hasMessageContaining("expected 40");
        assertThatThrownBy(() -> MessageRules.checkMessage(message(SET_VRING_ENABLE, new byte[12], 0))).hasMessageContaining("expected 8");
    }

    @Test
    void descriptorCounts() {
        assertThatCode(() -> MessageRules.checkMessage(message(SET_VRING_KICK, u64(0), 1))).doesNotThrowAnyException();
        assertThatCode(() -> MessageRules.checkMessage(message(SET_VRING_CALL, u64(0x100), 0))).doesNotThrowAnyException();
        assertThatThrownBy(() -> MessageRules.checkMessage(message(SET_VRING_KICK, u64(0), 0))).hasMessageContaining("expected 1");
        assertThatThrownBy(() -> MessageRules.checkMessage(message(SET_VRING_CALL, u64(0x100), 1))).hasMessageContaining("expected 0");
        assertThatThrownBy(() -> MessageRules.checkMessage(message(SET_OWNER, new byte[0], 1))).hasMessageContaining("descriptors");
    }

    @Test
    void memoryTableRegionCounts() {
        assertThatCode(() -> MessageRules.checkMessage(message(SET_MEM_TABLE, table(2), 2))).doesNotThrowAnyException();
        assertThatCode(() -> MessageRules.checkMessage(message(SET_MEM_TABLE, table(8), 8))).doesNotThrowAnyException();
        assertThatThrownBy(() -> MessageRules.checkMessage(message(SET_MEM_TABLE, table(0), 0))).hasMessageContaining("regions");
        assertThatThrownBy(() -> MessageRules.checkMessage(message(SET_MEM_TABLE, tableClaiming(9, 8), 8)))
                .hasMessageContaining("9 regions");
        assertThatThrownBy(() -> MessageRules.checkMessage(message(SET_MEM_TABLE, tableClaiming(3, 2), 2)))
                .hasMessageContaining("expected");
        assertThatThrownBy(() -> MessageRules.checkMessage(message(SET_MEM_TABLE, table(2), 1)))
                .hasMessageContaining("1 descriptors for 2 regions");
    }

    @Test
    void configPayloads() {
        byte[] ok = ByteBuffer.allocate(12 + 8).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 8).array();
        assertThatCode(() -> MessageRules.checkMessage(message(GET_CONFIG, ok, 0))).doesNotThrowAnyException();
        byte[] lies = ByteBuffer.allocate(12 + 8).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 200).array();
        assertThatThrownBy(() -> MessageRules.checkMessage(message(GET_CONFIG, lies, 0))).hasMessageContaining("config size 200");
    }

    @Test
    void requestsOfFeaturesNeverOffered() {
        assertThatThrownBy(() -> MessageRules.checkMessage(message(37, new byte[40], 1))).hasMessageContaining("ADD_MEM_REG");
        assertThatThrownBy(() -> MessageRules.checkMessage(message(SET_LOG_BASE, new byte[16], 1))).hasMessageContaining("not supported");
        assertThatThrownBy(() -> MessageRules.checkMessage(message(9999, new byte[0], 0))).hasMessageContaining("UNKNOWN");
    }

    private static byte[] table(int regions) {
        return tableClaiming(regions, regions);
    }

    private static byte[] tableClaiming(int claimed, int actual) {
        return ByteBuffer.allocate(8 + 32 * actual).order(ByteOrder.LITTLE_ENDIAN).putInt(0, claimed).array();
    }
}
