// Hand-written reference implementation of the benchmark network of
// benchmarks/throughput.py: the "bare C++ cost" that Brian's cpp_standalone code is
// compared against.
//
// Same model and per-step work as the code Brian 2.9 generates for
// dendritic.neurons (pyramidal kind, Poisson spiking), in double precision:
//
//   * exponential-Euler update of u, v_basal, v_apical (exact for the linear
//     compartments; per-neuron inputs I_soma, nudge, u_target, v_*_drive are arrays
//     read every step, and exp() of the per-neuron somatic rate constant is evaluated
//     per neuron, as in Brian's state updater, because nudge is a per-neuron input);
//   * refractoriness as in Brian: not_refractory = timestep(t - lastspike) >= timestep(t_ref);
//   * Poisson input sources: spike if rand() < 1 - exp(-rate dt);
//   * Poisson output: spike if not_refractory and rand() < 1 - exp(-phi(u) dt),
//     phi = softplus or sigmoid; spikes are recorded (index, time);
//   * synaptic propagation with zero delay in the same step: for every spiking
//     presynaptic neuron, walk its CSR row and add w to v_basal / v_apical of the targets;
//   * random numbers: std::mt19937, two 32-bit draws per double (the generator and
//     conversion of Brian's standalone RandomGenerator::rand()).
//
// Step order as Brian's schedule: state update, thresholds (inputs, then pyramidal),
// spike recording, synaptic propagation.
//
// Usage: pyramidal <input.bin> <spikes.bin>
// The input file (written by benchmarks/throughput.py, little-endian) holds
//   int64 N, N_in, n_steps, n_connections, transfer (0 softplus, 1 sigmoid), seed
//   double dt, C, g_L, g_B, g_A, g_som, E_L, tau_basal, tau_apical, t_ref,
//          phi_max, beta, theta, k, rate_in, v_basal_drive, v_apical_drive
//   per connection: int64 pre (0 pyramidal, 1 input), target (0 basal, 1 apical), n_syn;
//                   int32 pre[n_syn], post[n_syn]; double w[n_syn]
// The spike file gets int64 n_spikes, int32 i[n], double t[n].
// Prints one line "loop_seconds <wall s> loop_cpu_seconds <cpu s> spikes <n>".

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

namespace {

struct Csr {
    int source = 0;  // 0 pyramidal, 1 input
    int target = 0;  // 0 basal, 1 apical
    std::vector<int64_t> row;   // size n_pre + 1
    std::vector<int32_t> post;  // targets, grouped by presynaptic neuron
    std::vector<double> w;
};

template <typename T>
void read(std::FILE* f, T* data, size_t n) {
    if (n && std::fread(data, sizeof(T), n, f) != n) {
        std::fprintf(stderr, "pyramidal: truncated input file\n");
        std::exit(2);
    }
}

inline int64_t timestep(double t, double dt) { return (int64_t)((t + 1e-3 * dt) / dt); }

struct Random {
    std::mt19937 gen;
    explicit Random(unsigned long seed) : gen(seed) {}
    inline double rand() {
        const long a = gen() >> 5;
        const long b = gen() >> 6;
        return (a * 67108864.0 + b) / 9007199254740992.0;
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s input.bin spikes.bin\n", argv[0]);
        return 2;
    }
    std::FILE* in = std::fopen(argv[1], "rb");
    if (!in) {
        std::perror(argv[1]);
        return 2;
    }
    int64_t header[6];
    read(in, header, 6);
    const int64_t N = header[0], N_in = header[1], n_steps = header[2], n_conn = header[3];
    const int64_t transfer = header[4];
    const unsigned long seed = (unsigned long)header[5];
    double p[17];
    read(in, p, 17);
    const double dt = p[0], C = p[1], g_L = p[2], g_B = p[3], g_A = p[4], g_som = p[5], E_L = p[6];
    const double tau_basal = p[7], tau_apical = p[8], t_ref = p[9], phi_max = p[10], beta = p[11];
    const double theta = p[12], k = p[13], rate_in = p[14], drive_basal = p[15], drive_apical = p[16];

    std::vector<Csr> connections(n_conn);
    for (auto& c : connections) {
        int64_t h[3];
        read(in, h, 3);
        c.source = (int)h[0];
        c.target = (int)h[1];
        const int64_t n_syn = h[2];
        const int64_t n_pre = c.source == 0 ? N : N_in;
        std::vector<int32_t> pre(n_syn), post(n_syn);
        std::vector<double> w(n_syn);
        read(in, pre.data(), n_syn);
        read(in, post.data(), n_syn);
        read(in, w.data(), n_syn);
        // counting sort by presynaptic neuron (stable: synapse order kept within a row)
        c.row.assign(n_pre + 1, 0);
        for (int64_t s = 0; s < n_syn; s++) c.row[pre[s] + 1]++;
        for (int64_t i = 0; i < n_pre; i++) c.row[i + 1] += c.row[i];
        std::vector<int64_t> fill(c.row.begin(), c.row.end() - 1);
        c.post.resize(n_syn);
        c.w.resize(n_syn);
        for (int64_t s = 0; s < n_syn; s++) {
            const int64_t at = fill[pre[s]]++;
            c.post[at] = post[s];
            c.w[at] = w[s];
        }
    }
    std::fclose(in);

    // per-neuron state and inputs (as Brian's arrays)
    std::vector<double> u(N, E_L), v_basal(N, E_L + drive_basal), v_apical(N, E_L + drive_apical);
    std::vector<double> I_soma(N, 0.0), nudge(N, 0.0), u_target(N, 0.0);
    std::vector<double> v_basal_drive(N, drive_basal), v_apical_drive(N, drive_apical);
    std::vector<double> lastspike(N, -1e4);
    std::vector<char> not_refractory(N, 1);
    std::vector<int32_t> spikes_pyr(N), spikes_in(N_in);
    std::vector<int32_t> rec_i;
    std::vector<double> rec_t;
    rec_i.reserve(1 << 20);
    rec_t.reserve(1 << 20);
    Random rng(seed);

    // loop invariants (Brian hoists the same scalar expressions)
    const int64_t ref_steps = timestep(t_ref, dt);
    const double a_EL = E_L * g_L / C, a_I = 1.0 / C, a_A = g_A / C, a_B = g_B / C, a_som = g_som / C;
    const double a_leak = -g_A / C - (g_B / C + g_L / C);
    const double decay_apical = std::exp(-dt / tau_apical), decay_basal = std::exp(-dt / tau_basal);
    const double p_in = 1.0 - std::exp(-rate_in * dt);

    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    for (int64_t step = 0; step < n_steps; step++) {
        const double t = step * dt;
        // state update
        for (int64_t i = 0; i < N; i++) {
            not_refractory[i] = timestep(t - lastspike[i], dt) >= ref_steps;
            const double rate_u = a_leak - a_som * nudge[i];
            const double fixed = (a_EL + a_I * I_soma[i] + a_A * v_apical[i] + a_B * v_basal[i] +
                                  a_som * nudge[i] * u_target[i]) / rate_u;
            u[i] = -fixed + (fixed + u[i]) * std::exp(dt * rate_u);
            const double rest_apical = E_L + v_apical_drive[i];
            v_apical[i] = rest_apical + decay_apical * (v_apical[i] - rest_apical);
            const double rest_basal = E_L + v_basal_drive[i];
            v_basal[i] = rest_basal + decay_basal * (v_basal[i] - rest_basal);
        }
        // thresholds: Poisson inputs, then pyramidal neurons
        int64_t n_in = 0;
        for (int64_t i = 0; i < N_in; i++)
            if (rng.rand() < p_in) spikes_in[n_in++] = (int32_t)i;
        int64_t n_pyr = 0;
        for (int64_t i = 0; i < N; i++) {
            const double x = beta * (u[i] - theta);
            double rate;
            if (transfer == 0)
                rate = phi_max * ((x > 0.0 ? x : 0.0) + std::log1p(std::exp(-std::fabs(x))));
            else
                rate = phi_max / (1.0 + k * std::exp(-x));
            const bool fire = rng.rand() < 1.0 - std::exp(-rate * dt);
            if (fire && not_refractory[i]) {
                spikes_pyr[n_pyr++] = (int32_t)i;
                not_refractory[i] = 0;
                lastspike[i] = t;
            }
        }
        // spike recording
        for (int64_t s = 0; s < n_pyr; s++) {
            rec_i.push_back(spikes_pyr[s]);
            rec_t.push_back(t);
        }
        // synaptic propagation (zero delay)
        for (auto& c : connections) {
            const int32_t* spikes = c.source == 0 ? spikes_pyr.data() : spikes_in.data();
            const int64_t n_spikes = c.source == 0 ? n_pyr : n_in;
            double* v = c.target == 0 ? v_basal.data() : v_apical.data();
            const int64_t* row = c.row.data();
            const int32_t* post = c.post.data();
            const double* w = c.w.data();
            for (int64_t s = 0; s < n_spikes; s++) {
                const int32_t pre = spikes[s];
                for (int64_t at = row[pre]; at < row[pre + 1]; at++) v[post[at]] += w[at];
            }
        }
    }
    const double loop = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double loop_cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;

    std::FILE* out = std::fopen(argv[2], "wb");
    if (!out) {
        std::perror(argv[2]);
        return 2;
    }
    const int64_t n_rec = (int64_t)rec_i.size();
    std::fwrite(&n_rec, sizeof n_rec, 1, out);
    std::fwrite(rec_i.data(), sizeof(int32_t), rec_i.size(), out);
    std::fwrite(rec_t.data(), sizeof(double), rec_t.size(), out);
    std::fclose(out);
    std::printf("loop_seconds %.6f loop_cpu_seconds %.6f spikes %lld\n", loop, loop_cpu, (long long)n_rec);
    return 0;
}
