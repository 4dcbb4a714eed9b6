#include "delegates/kernels/dot_amx.h"

#include <algorithm>
#include <cstring>

#include "delegates/cpu_features.h"

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#include <immintrin.h>

#include "delegates/kernels/fixed_point_avx512.h"
#define TFQ_AMX 1
#endif

namespace tfq {
namespace kernels {
namespace {

constexpr int kTileBytes = 64;  // a tile row: 64 int8 taps, or 16 int32 sums
constexpr int kTileRows = 16;

#if TFQ_AMX
// GCC's AMX intrinsics are inline asm that does not tell the compiler which
// memory it reads or writes (_tile_loadconfig claims 8 of its 64 bytes,
// _tile_loadd/_tile_stored none): without a barrier the stores of the
// config or the rows may be dropped or moved past the asm, and the sums
// read before they are stored.
inline void MemoryBarrier() { __asm__ __volatile__("" : : : "memory"); }

// ldtilecfg's 64-byte operand: palette 1, then bytes per row and rows per tile.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

// Tiles: 0-3 the sums (rows 0-15 x channel blocks 0, 1; rows 16-31 x the
// same), 4 and 5 the two 16-row halves of the rows, 6 and 7 the weights of
// two 16-channel blocks. Each weight tile loaded serves up to 32 rows.
__attribute__((target("amx-tile"))) void LoadConfig(int rows) {
  TileConfig config;
  const int first = rows < kTileRows ? rows : kTileRows, second = rows - first;
  for (int t : {0, 1, 4}) {
    config.bytes_per_row[t] = kTileBytes;
    config.rows[t] = static_cast<uint8_t>(first);
  }
  if (second > 0) {
    for (int t : {2, 3, 5}) {
      config.bytes_per_row[t] = kTileBytes;
      config.rows[t] = static_cast<uint8_t>(second);
    }
  }
  for (int t : {6, 7}) {
    config.bytes_per_row[t] = kTileBytes;
    config.rows[t] = kTileRows;
  }
  MemoryBarrier();
  _tile_loadconfig(&config);
}

__attribute__((target("amx-tile"))) void ReleaseTiles() { _tile_release(); }

// sums[tile][row][16] for row halves (0: rows 0-15, 1: rows 16-31 when
// `second_half`) and channel blocks b0 and b1 (when `two`): sums[half * 2 + block].
__attribute__((target("amx-tile,amx-int8"))) void TilePass(const int8_t* a, int64_t a_stride,
                                                          const int8_t* b0, const int8_t* b1,
                                                          int k_blocks, bool two,
                                                          bool second_half, int32_t* sums) {
  MemoryBarrier();
  const int8_t* a1 = a + static_cast<int64_t>(kTileRows) * a_stride;
  _tile_zero(0);
  _tile_zero(1);
  if (second_half) {
    _tile_zero(2);
    _tile_zero(3);
  }
  for (int kb = 0; kb < k_blocks; ++kb) {
    _tile_loadd(4, a + kb * kTileBytes, a_stride);
    _tile_loadd(6, b0 + kb * kTileRows * kTileBytes, kTileBytes);
    _tile_dpbssd(0, 4, 6);
    if (two) {
      _tile_loadd(7, b1 + kb * kTileRows * kTileBytes, kTileBytes);
      _tile_dpbssd(1, 4, 7);
    }
    if (second_half) {
      _tile_loadd(5, a1 + kb * kTileBytes, a_stride);
      _tile_dpbssd(2, 5, 6);
      if (two) _tile_dpbssd(3, 5, 7);
    }
  }
  constexpr int kTileInts = kTileRows * 16;
  _tile_stored(0, sums, kTileBytes);
  if (two) _tile_stored(1, sums + kTileInts, kTileBytes);
  if (second_half) {
    _tile_stored(2, sums + 2 * kTileInts, kTileBytes);
    if (two) _tile_stored(3, sums + 3 * kTileInts, kTileBytes);
  }
  MemoryBarrier();
}

// The epilogue of one tile of sums (`rows` x 16 channels from `first`):
// offsets added and rescaled to int8 straight from the tile, each channel's
// multiplier loaded once per tile.
__attribute__((target("avx512f,avx512bw"))) void TileToInt8(
    const int32_t* tile, int rows, const int32_t* offsets,
    const ChannelRequantization& requantization, int first, int width, int8_t* out,
    int out_stride) {
  const ChannelBlockX16 block = LoadChannelBlockX16(requantization, offsets, first, width);
  for (int r = 0; r < rows; ++r) {
    StoreRescaledX16(block, _mm512_load_si512(tile + r * 16),
                     out + static_cast<int64_t>(r) * out_stride + first);
  }
}
#endif

}  // namespace

bool AmxAvailable() {
#if TFQ_AMX
  return GetCpuFeatures().amx;  // Linux's tile state already granted there
#else
  return false;
#endif
}

int AmxRowStride(int n) { return (n + kTileBytes - 1) / kTileBytes * kTileBytes; }

std::vector<int8_t> PackFiltersAmx(const int8_t* filters, int output_depth, int n) {
  const int k_blocks = AmxRowStride(n) / kTileBytes;
  const int n_blocks = (output_depth + 15) / 16;
  std::vector<int8_t> packed(static_cast<size_t>(n_blocks) * k_blocks * kTileRows * kTileBytes, 0);
  // Tile (nb, kb), row j, bytes c*4 .. c*4+3: channel nb*16+c, taps kb*64 + 4j .. 4j+3.
  for (int c = 0; c < output_depth; ++c) {
    const int8_t* filter = filters + static_cast<int64_t>(c) * n;
    for (int i = 0; i < n; i += 4) {  // one quad of taps: 4 bytes of a tile row
      const int kb = i / kTileBytes, j = (i % kTileBytes) / 4;
      const size_t tile = (static_cast<size_t>(c / 16) * k_blocks + kb) * kTileRows * kTileBytes;
      std::memcpy(&packed[tile + j * kTileBytes + (c % 16) * 4], filter + i, n - i < 4 ? n - i : 4);
    }
  }
  return packed;
}

AmxTiles::~AmxTiles() {
#if TFQ_AMX
  if (rows_ != 0) ReleaseTiles();
#endif
}

void AmxTiles::Configure(int rows) {
#if TFQ_AMX
  if (rows == rows_) return;
  LoadConfig(rows);
  rows_ = rows;
#else
  (void)rows;
#endif
}

void AmxDotRowsToInt8(AmxTiles& tiles, const int8_t* a, int64_t a_stride, int num_rows,
                      const std::vector<int8_t>& packed, const int32_t* offsets,
                      const ChannelRequantization& requantization, int output_depth, int n,
                      int8_t* out, int out_stride, int channel_begin, int channel_end) {
#if TFQ_AMX
  const int k_blocks = AmxRowStride(n) / kTileBytes;
  tiles.Configure(num_rows);
  const size_t block_bytes = static_cast<size_t>(k_blocks) * kTileRows * kTileBytes;
  constexpr int kTileInts = kTileRows * 16;
  alignas(64) int32_t sums[4 * kTileInts];
  const bool second_half = num_rows > kTileRows;
  const int channels_end = channel_end < 0 ? output_depth : std::min(channel_end, output_depth);
  for (int c0 = channel_begin; c0 < channels_end; c0 += 32) {
    const bool two = c0 + 16 < output_depth;
    const int8_t* b0 = packed.data() + (c0 / 16) * block_bytes;
    TilePass(a, a_stride, b0, b0 + block_bytes, k_blocks, two, second_half, sums);
    for (int block = 0; block < (two ? 2 : 1); ++block) {
      const int first = c0 + block * 16;
      const int width = output_depth - first < 16 ? output_depth - first : 16;
      for (int half = 0; half < (second_half ? 2 : 1); ++half) {
        const int rows = half == 0 ? (num_rows < kTileRows ? num_rows : kTileRows)
                                   : num_rows - kTileRows;
        TileToInt8(sums + (half * 2 + block) * kTileInts, rows, offsets, requantization, first,
                   width, out + static_cast<int64_t>(half) * kTileRows * out_stride, out_stride);
      }
    }
  }
#else
  (void)tiles, (void)a, (void)a_stride, (void)num_rows, (void)packed, (void)offsets;
  (void)requantization, (void)output_depth, (void)n, (void)out, (void)out_stride;
  (void)channel_begin, (void)channel_end;
#endif
}

}  // namespace kernels
}  // namespace tfq
