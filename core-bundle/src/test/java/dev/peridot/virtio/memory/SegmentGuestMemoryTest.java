package dev.peridot.virtio.memory;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class SegmentGuestMemoryTest {

    @Test
    void readsAndWritesLittleEndian() throws Exception {
        try (SegmentGuestMemory m = SegmentGuestMemory.allocate(0x1000, 0x1000)) {
            m.writeInt(0x1000, 0x74726976);
            assertThat(m.readByte(0x1000)).isEqualTo((byte) 'v');
            assertThat(m.readByte(0x1003)).isEqualTo((byte) 't');
            m.writeLong(0x1008, 0x0102030405060708L);
            assertThat(m.readShort(0x1008)).isEqualTo((short) 0x0708);
            assertThat(m.readLong(0x1008)).isEqualTo(0x0102030405060708L);
        }
    }

    @Test
    @DisplayName("HD-23: accesses outside RAM, across its end, with wrapping length or negative address are refused")
    void outOfRangeAccessesAreReportedErrors() {
        try (SegmentGuestMemory m = SegmentGuestMemory.allocate(0x1000, 0x1000)) {
            assertThatThrownBy(() -> m.readInt(0x0FFE)).isInstanceOf(GuestMemoryException.class);
            assertThatThrownBy(() -> m.readInt(0x1FFE)).isInstanceOf(GuestMemoryException.class);
            assertThatThrownBy(() -> m.readLong(0x2000)).isInstanceOf(GuestMemoryException.class);
            assertThatThrownBy(() -> m.readByte(-1)).isInstanceOf(GuestMemoryException.class);
            assertThatThrownBy(() -> m.readByte(Long.MIN_VALUE)).isInstanceOf(GuestMemoryException.class);
            assertThatThrownBy(() -> m.segment(0x1000, Long.MAX_VALUE)).isInstanceOf(GuestMemoryException.class);
            assertThatThrownBy(() -> m.segment(0x1800, -1)).isInstanceOf(GuestMemoryException.class);
            assertThat(m.isValid(0x1000, 0x1000)).isTrue();
            assertThat(m.isValid(0x1000, 0x1001)).isFalse();
            assertThat(m.isValid(0xFFFF_FFFF_FFFF_F000L, 0x2000)).isFalse();
            assertThat(m.isValid(0x2000, 0)).isTrue();
            assertThat(m.isValid(0x2001, 0)).isFalse();
        }
    }

    @Test
    @DisplayName("HD-23: a refused copy has no partial effect")
    void refusedCopyWritesNothing() throws Exception {
        try (SegmentGuestMemory m = SegmentGuestMemory.allocate(0x1000, 0x100)) {
            byte[] data = new byte[0x20];
            java.util.Arrays.fill(data, (byte) 7);
            assertThatThrownBy(() -> m.write(0x10F0, data, 0, data.length)).isInstanceOf(GuestMemoryException.class);
            assertThat(m.readByte(0x10F0)).isZero();
            assertThat(m.readByte(0x10FF)).isZero();
        }
    }

    @Test
    @DisplayName("HD-23: copies span adjacent regions but not a hole between regions")
    void copiesAcrossAdjacentRegionsButNotHoles() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            SegmentGuestMemory m = SegmentGuestMemory.of(List.of(
                    new MemoryRegion(0x0, arena.allocate(0x1000, 4096), "low"),
                    new MemoryRegion(0x1000, arena.allocate(0x1000, 4096), "adjacent"),
                    new MemoryRegion(0x3000, arena.allocate(0x1000, 4096), "after-hole")));
            byte[] data = new byte[0x100];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) i;
            }
            m.write(0x0F80, data, 0, data.length);
            byte[] back = new byte[0x100];
            m.read(0x0F80, back, 0, back.length);
            assertThat(back).isEqualTo(data);
            assertThat(m.isValid(0x0F80, 0x100)).isTrue();
            assertThat(m.isValid(0x1F80, 0x100)).isFalse();
            assertThatThrownBy(() -> m.write(0x1F80, data, 0, data.length)).isInstanceOf(GuestMemoryException.class);
            assertThatThrownBy(() -> m.segment(0x0F80, 0x100))
                    .as("a ring may not span regions").isInstanceOf(GuestMemoryException.class);
            assertThat(m.totalSize()).isEqualTo(0x3000);
        }
    }

    @Test
    void overlappingRegionsAreRejected() {
        try (Arena arena = Arena.ofShared()) {
            assertThatThrownBy(() -> SegmentGuestMemory.of(List.of(
                    new MemoryRegion(0x0, arena.allocate(0x1000), "a"),
                    new MemoryRegion(0x800, arena.allocate(0x1000), "b"))))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    @DisplayName("an unmapped region answers with GuestMemoryException, never an unchecked exception")
    void closedMemoryFailsCleanly() {
        SegmentGuestMemory m = SegmentGuestMemory.allocate(0, 0x1000);
        m.close();
        assertThatThrownBy(() -> m.readInt(0)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> m.write(0, new byte[4], 0, 4)).isInstanceOf(GuestMemoryException.class);
        assertThatThrownBy(() -> m.read(0, ByteBuffer.allocate(4))).isInstanceOf(GuestMemoryException.class);
    }

    @Test
    void byteBufferCopiesAdvanceThePosition() throws Exception {
        try (SegmentGuestMemory m = SegmentGuestMemory.allocate(0, 0x1000)) {
            ByteBuffer src = ByteBuffer.wrap(new byte[] {1, 2, 3, 4});
            m.write(0x10, src);
            assertThat(src.remaining()).isZero();
            ByteBuffer direct = ByteBuffer.allocateDirect(4);
            m.read(0x10, direct);
            assertThat(direct.position()).isEqualTo(4);
            assertThat(direct.get(3)).isEqualTo((byte) 4);
        }
    }
}
