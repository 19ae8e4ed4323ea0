// The prototype of every Linux helper (struct bpf_func_proto in kernel/bpf/helpers.c,
// kernel/trace/bpf_trace.c, net/core/filter.c and kernel/bpf/*.c of Linux 6.x), by enum
// bpf_func_id. docs/helpers.md explains the choices where Linux has several protos for one
// id, and the few places where bpfvm's own helpers keep a stricter kind than Linux's.
#include <bpfvm/linux_prototypes.hpp>

#include <algorithm>
#include <iterator>

namespace bpfvm {
namespace {

using A = ArgKind;
using R = ReturnKind;

// Kept in id order, one entry per id from 1: linux_helper_info indexes it directly. The
// fourth field, when present, is bpf_helper_changes_pkt_data (net/core/filter.c); the fifth
// the argN_size of ARG_PTR_TO_FIXED_SIZE_MEM arguments (sizeof(struct iphdr) = 20,
// sizeof(struct ipv6hdr) = 40, sizeof(struct tcphdr) = 20).
//
// Notes on single entries (Linux's kinds where the table differs, and why):
//  - 4, 45, 112-115 (the probe_read family): unsafe_ptr for Linux's ARG_ANYTHING source
//    address. bpfvm refuses pointers in ARG_ANYTHING arguments (the unprivileged rule); the
//    source of a probe read is an address by design, which root Linux accepts as a pointer
//    and bpfvm's implementations only read through HelperCall::accessible.
//  - 6 trace_printk: as Linux's bpf_trace_printk_proto, only arg1 (ARG_PTR_TO_MEM |
//    MEM_RDONLY) and arg2 (ARG_CONST_SIZE); r3-r5 are unchecked (ARG_DONTCARE), so
//    bpf_printk("x") with r3-r5 never set verifies. The implementation reads the values the
//    format names and reaches memory only through HelperCall::accessible (%s, %pks, %pi4):
//    an unset or forged pointer prints as an empty string, never a fault.
//  - 12 tail_call: RET_VOID in Linux; no_return tells the verifier the path ends on success.
//  - 17 get_cgroup_classid: tc's proto (ARG_PTR_TO_CTX); the other types get
//    bpf_get_cgroup_classid_curr_proto, which takes no argument.
//  - 46 get_socket_cookie: the skb/sock_addr/sock_ops/sock protos take the context
//    (ARG_PTR_TO_CTX); tracing programs get bpf_get_socket_ptr_cookie (a BTF socket).
//  - 88/89 map_pop_elem/map_peek_elem: Linux's ARG_PTR_TO_MAP_VALUE | MEM_UNINIT
//    (uninit_map_value); bpfvm keeps map_value (the bytes must be initialised, stricter) for
//    the helpers it runs until the verifier checks uninit_map_value.
//  - 111 skb_output, 121 xdp_output: the tracing protos (a BTF sk_buff / xdp_buff); the
//    networking types call them by their own ids (25 perf_event_output).
//  - 122 get_netns_cookie: the sock/sock_addr proto (ARG_PTR_TO_CTX_OR_NULL); the skb proto
//    (tc, 6.x) takes ARG_PTR_TO_CTX, which ctx_or_null also admits.
//  - 124 sk_assign: the tc proto (ARG_PTR_TO_BTF_ID_SOCK_COMMON); sk_lookup programs get
//    bpf_sk_lookup_assign (ARG_PTR_TO_SOCKET_OR_NULL).
//  - 165 snprintf: arg1 is ARG_PTR_TO_MEM_OR_NULL (written by the helper); bpfvm keeps
//    mem_or_null, as the implementation it runs was verified with.
constexpr LinuxHelperInfo table[] = {
    // clang-format off
  {1, "bpf_map_lookup_elem", {R::map_value_or_null, {A::const_map_ptr, A::map_key}}},
  {2, "bpf_map_update_elem", {R::integer, {A::const_map_ptr, A::map_key, A::map_value, A::anything}}},
  {3, "bpf_map_delete_elem", {R::integer, {A::const_map_ptr, A::map_key}}},
  {4, "bpf_probe_read", {R::integer, {A::uninit_mem, A::const_size_or_zero, A::unsafe_ptr}}},
  {5, "bpf_ktime_get_ns", {R::integer, {}}},
  {6, "bpf_trace_printk", {R::integer, {A::mem, A::const_size}}},
  {7, "bpf_get_prandom_u32", {R::integer, {}}},
  {8, "bpf_get_smp_processor_id", {R::integer, {}}},
  {9, "bpf_skb_store_bytes", {R::integer, {A::ctx, A::anything, A::mem, A::const_size, A::anything}, true}},
  {10, "bpf_l3_csum_replace", {R::integer, {A::ctx, A::anything, A::anything, A::anything, A::anything}, true}},
  {11, "bpf_l4_csum_replace", {R::integer, {A::ctx, A::anything, A::anything, A::anything, A::anything}, true}},
  {12, "bpf_tail_call", {R::no_return, {A::ctx, A::const_map_ptr, A::anything}}},
  {13, "bpf_clone_redirect", {R::integer, {A::ctx, A::anything, A::anything}, true}},
  {14, "bpf_get_current_pid_tgid", {R::integer, {}}},
  {15, "bpf_get_current_uid_gid", {R::integer, {}}},
  {16, "bpf_get_current_comm", {R::integer, {A::uninit_mem, A::const_size}}},
  {17, "bpf_get_cgroup_classid", {R::integer, {A::ctx}}},
  {18, "bpf_skb_vlan_push", {R::integer, {A::ctx, A::anything, A::anything}, true}},
  {19, "bpf_skb_vlan_pop", {R::integer, {A::ctx}, true}},
  {20, "bpf_skb_get_tunnel_key", {R::integer, {A::ctx, A::uninit_mem, A::const_size, A::anything}}},
  {21, "bpf_skb_set_tunnel_key", {R::integer, {A::ctx, A::mem, A::const_size, A::anything}}},
  {22, "bpf_perf_event_read", {R::integer, {A::const_map_ptr, A::anything}}},
  {23, "bpf_redirect", {R::integer, {A::anything, A::anything}}},
  {24, "bpf_get_route_realm", {R::integer, {A::ctx}}},
  {25, "bpf_perf_event_output", {R::integer, {A::ctx, A::const_map_ptr, A::anything, A::mem, A::const_size_or_zero}}},
  {26, "bpf_skb_load_bytes", {R::integer, {A::ctx, A::anything, A::uninit_mem, A::const_size}}},
  {27, "bpf_get_stackid", {R::integer, {A::ctx, A::const_map_ptr, A::anything}}},
  {28, "bpf_csum_diff", {R::integer, {A::mem_or_null, A::const_size_or_zero, A::mem_or_null, A::const_size_or_zero, A::anything}}},
  {29, "bpf_skb_get_tunnel_opt", {R::integer, {A::ctx, A::uninit_mem, A::const_size}}},
  {30, "bpf_skb_set_tunnel_opt", {R::integer, {A::ctx, A::mem, A::const_size}}},
  {31, "bpf_skb_change_proto", {R::integer, {A::ctx, A::anything, A::anything}, true}},
  {32, "bpf_skb_change_type", {R::integer, {A::ctx, A::anything}}},
  {33, "bpf_skb_under_cgroup", {R::integer, {A::ctx, A::const_map_ptr, A::anything}}},
  {34, "bpf_get_hash_recalc", {R::integer, {A::ctx}}},
  {35, "bpf_get_current_task", {R::integer, {}}},
  {36, "bpf_probe_write_user", {R::integer, {A::anything, A::mem, A::const_size}}},
  {37, "bpf_current_task_under_cgroup", {R::integer, {A::const_map_ptr, A::anything}}},
  {38, "bpf_skb_change_tail", {R::integer, {A::ctx, A::anything, A::anything}, true}},
  {39, "bpf_skb_pull_data", {R::integer, {A::ctx, A::anything}, true}},
  {40, "bpf_csum_update", {R::integer, {A::ctx, A::anything}}},
  {41, "bpf_set_hash_invalid", {R::void_, {A::ctx}}},
  {42, "bpf_get_numa_node_id", {R::integer, {}}},
  {43, "bpf_skb_change_head", {R::integer, {A::ctx, A::anything, A::anything}, true}},
  {44, "bpf_xdp_adjust_head", {R::integer, {A::ctx, A::anything}, true}},
  {45, "bpf_probe_read_str", {R::integer, {A::uninit_mem, A::const_size_or_zero, A::unsafe_ptr}}},
  {46, "bpf_get_socket_cookie", {R::integer, {A::ctx}}},
  {47, "bpf_get_socket_uid", {R::integer, {A::ctx}}},
  {48, "bpf_set_hash", {R::integer, {A::ctx, A::anything}}},
  {49, "bpf_setsockopt", {R::integer, {A::ctx, A::anything, A::anything, A::mem, A::const_size}}},
  {50, "bpf_skb_adjust_room", {R::integer, {A::ctx, A::anything, A::anything, A::anything}, true}},
  {51, "bpf_redirect_map", {R::integer, {A::const_map_ptr, A::anything, A::anything}}},
  {52, "bpf_sk_redirect_map", {R::integer, {A::ctx, A::const_map_ptr, A::anything, A::anything}}},
  {53, "bpf_sock_map_update", {R::integer, {A::ctx, A::const_map_ptr, A::map_key, A::anything}}},
  {54, "bpf_xdp_adjust_meta", {R::integer, {A::ctx, A::anything}, true}},
  {55, "bpf_perf_event_read_value", {R::integer, {A::const_map_ptr, A::anything, A::uninit_mem, A::const_size}}},
  {56, "bpf_perf_prog_read_value", {R::integer, {A::ctx, A::uninit_mem, A::const_size}}},
  {57, "bpf_getsockopt", {R::integer, {A::ctx, A::anything, A::anything, A::uninit_mem, A::const_size}}},
  {58, "bpf_override_return", {R::integer, {A::ctx, A::anything}}},
  {59, "bpf_sock_ops_cb_flags_set", {R::integer, {A::ctx, A::anything}}},
  {60, "bpf_msg_redirect_map", {R::integer, {A::ctx, A::const_map_ptr, A::anything, A::anything}}},
  {61, "bpf_msg_apply_bytes", {R::integer, {A::ctx, A::anything}}},
  {62, "bpf_msg_cork_bytes", {R::integer, {A::ctx, A::anything}}},
  {63, "bpf_msg_pull_data", {R::integer, {A::ctx, A::anything, A::anything, A::anything}, true}},
  {64, "bpf_bind", {R::integer, {A::ctx, A::mem, A::const_size}}},
  {65, "bpf_xdp_adjust_tail", {R::integer, {A::ctx, A::anything}, true}},
  {66, "bpf_skb_get_xfrm_state", {R::integer, {A::ctx, A::anything, A::uninit_mem, A::const_size, A::anything}}},
  {67, "bpf_get_stack", {R::integer, {A::ctx, A::uninit_mem, A::const_size_or_zero, A::anything}}},
  {68, "bpf_skb_load_bytes_relative", {R::integer, {A::ctx, A::anything, A::uninit_mem, A::const_size, A::anything}}},
  {69, "bpf_fib_lookup", {R::integer, {A::ctx, A::writable_mem, A::const_size, A::anything}}},
  {70, "bpf_sock_hash_update", {R::integer, {A::ctx, A::const_map_ptr, A::map_key, A::anything}}},
  {71, "bpf_msg_redirect_hash", {R::integer, {A::ctx, A::const_map_ptr, A::map_key, A::anything}}},
  {72, "bpf_sk_redirect_hash", {R::integer, {A::ctx, A::const_map_ptr, A::map_key, A::anything}}},
  {73, "bpf_lwt_push_encap", {R::integer, {A::ctx, A::anything, A::mem, A::const_size}, true}},
  {74, "bpf_lwt_seg6_store_bytes", {R::integer, {A::ctx, A::anything, A::mem, A::const_size}, true}},
  {75, "bpf_lwt_seg6_adjust_srh", {R::integer, {A::ctx, A::anything, A::anything}, true}},
  {76, "bpf_lwt_seg6_action", {R::integer, {A::ctx, A::anything, A::mem, A::const_size}, true}},
  {77, "bpf_rc_repeat", {R::integer, {A::ctx}}},
  {78, "bpf_rc_keydown", {R::integer, {A::ctx, A::anything, A::anything, A::anything}}},
  {79, "bpf_skb_cgroup_id", {R::integer, {A::ctx}}},
  {80, "bpf_get_current_cgroup_id", {R::integer, {}}},
  {81, "bpf_get_local_storage", {R::map_value, {A::const_map_ptr, A::anything}}},
  {82, "bpf_sk_select_reuseport", {R::integer, {A::ctx, A::const_map_ptr, A::map_key, A::anything}}},
  {83, "bpf_skb_ancestor_cgroup_id", {R::integer, {A::ctx, A::anything}}},
  {84, "bpf_sk_lookup_tcp", {R::acquired_socket_or_null, {A::ctx, A::mem, A::const_size, A::anything, A::anything}}},
  {85, "bpf_sk_lookup_udp", {R::acquired_socket_or_null, {A::ctx, A::mem, A::const_size, A::anything, A::anything}}},
  {86, "bpf_sk_release", {R::integer, {A::release_sock_common}}},
  {87, "bpf_map_push_elem", {R::integer, {A::const_map_ptr, A::map_value, A::anything}}},
  {88, "bpf_map_pop_elem", {R::integer, {A::const_map_ptr, A::map_value}}},
  {89, "bpf_map_peek_elem", {R::integer, {A::const_map_ptr, A::map_value}}},
  {90, "bpf_msg_push_data", {R::integer, {A::ctx, A::anything, A::anything, A::anything}, true}},
  {91, "bpf_msg_pop_data", {R::integer, {A::ctx, A::anything, A::anything, A::anything}, true}},
  {92, "bpf_rc_pointer_rel", {R::integer, {A::ctx, A::anything, A::anything}}},
  {93, "bpf_spin_lock", {R::void_, {A::spin_lock}}},
  {94, "bpf_spin_unlock", {R::void_, {A::spin_lock}}},
  {95, "bpf_sk_fullsock", {R::socket_or_null, {A::sock_common}}},
  {96, "bpf_tcp_sock", {R::tcp_sock_or_null, {A::sock_common}}},
  {97, "bpf_skb_ecn_set_ce", {R::integer, {A::ctx}}},
  {98, "bpf_get_listener_sock", {R::socket_or_null, {A::sock_common}}},
  {99, "bpf_skc_lookup_tcp", {R::acquired_sock_common_or_null, {A::ctx, A::mem, A::const_size, A::anything, A::anything}}},
  {100, "bpf_tcp_check_syncookie", {R::integer, {A::btf_id_sock_common, A::mem, A::const_size, A::mem, A::const_size}}},
  {101, "bpf_sysctl_get_name", {R::integer, {A::ctx, A::uninit_mem, A::const_size, A::anything}}},
  {102, "bpf_sysctl_get_current_value", {R::integer, {A::ctx, A::uninit_mem, A::const_size}}},
  {103, "bpf_sysctl_get_new_value", {R::integer, {A::ctx, A::uninit_mem, A::const_size}}},
  {104, "bpf_sysctl_set_new_value", {R::integer, {A::ctx, A::mem, A::const_size}}},
  {105, "bpf_strtol", {R::integer, {A::mem, A::const_size, A::anything, A::long_ptr}}},
  {106, "bpf_strtoul", {R::integer, {A::mem, A::const_size, A::anything, A::long_ptr}}},
  {107, "bpf_sk_storage_get", {R::map_value_or_null, {A::const_map_ptr, A::btf_id_sock_common, A::map_value_or_null, A::anything}}},
  {108, "bpf_sk_storage_delete", {R::integer, {A::const_map_ptr, A::btf_id_sock_common}}},
  {109, "bpf_send_signal", {R::integer, {A::anything}}},
  {110, "bpf_tcp_gen_syncookie", {R::integer, {A::btf_id_sock_common, A::mem, A::const_size, A::mem, A::const_size}}},
  {111, "bpf_skb_output", {R::integer, {A::btf_id, A::const_map_ptr, A::anything, A::mem, A::const_size_or_zero}}},
  {112, "bpf_probe_read_user", {R::integer, {A::uninit_mem, A::const_size_or_zero, A::unsafe_ptr}}},
  {113, "bpf_probe_read_kernel", {R::integer, {A::uninit_mem, A::const_size_or_zero, A::unsafe_ptr}}},
  {114, "bpf_probe_read_user_str", {R::integer, {A::uninit_mem, A::const_size_or_zero, A::unsafe_ptr}}},
  {115, "bpf_probe_read_kernel_str", {R::integer, {A::uninit_mem, A::const_size_or_zero, A::unsafe_ptr}}},
  {116, "bpf_tcp_send_ack", {R::integer, {A::btf_id, A::anything}}},
  {117, "bpf_send_signal_thread", {R::integer, {A::anything}}},
  {118, "bpf_jiffies64", {R::integer, {}}},
  {119, "bpf_read_branch_records", {R::integer, {A::ctx, A::writable_mem_or_null, A::const_size_or_zero, A::anything}}},
  {120, "bpf_get_ns_current_pid_tgid", {R::integer, {A::anything, A::anything, A::uninit_mem, A::const_size}}},
  {121, "bpf_xdp_output", {R::integer, {A::btf_id, A::const_map_ptr, A::anything, A::mem, A::const_size_or_zero}}},
  {122, "bpf_get_netns_cookie", {R::integer, {A::ctx_or_null}}},
  {123, "bpf_get_current_ancestor_cgroup_id", {R::integer, {A::anything}}},
  {124, "bpf_sk_assign", {R::integer, {A::ctx, A::btf_id_sock_common, A::anything}}},
  {125, "bpf_ktime_get_boot_ns", {R::integer, {}}},
  {126, "bpf_seq_printf", {R::integer, {A::btf_id, A::mem, A::const_size, A::mem_or_null, A::const_size_or_zero}}},
  {127, "bpf_seq_write", {R::integer, {A::btf_id, A::mem, A::const_size_or_zero}}},
  {128, "bpf_sk_cgroup_id", {R::integer, {A::btf_id_sock_common}}},
  {129, "bpf_sk_ancestor_cgroup_id", {R::integer, {A::btf_id_sock_common, A::anything}}},
  {130, "bpf_ringbuf_output", {R::integer, {A::const_map_ptr, A::mem, A::const_size_or_zero, A::anything}}},
  {131, "bpf_ringbuf_reserve", {R::ringbuf_record_or_null, {A::const_map_ptr, A::const_alloc_size, A::anything}}},
  {132, "bpf_ringbuf_submit", {R::void_, {A::ringbuf_record, A::anything}}},
  {133, "bpf_ringbuf_discard", {R::void_, {A::ringbuf_record, A::anything}}},
  {134, "bpf_ringbuf_query", {R::integer, {A::const_map_ptr, A::anything}}},
  {135, "bpf_csum_level", {R::integer, {A::ctx, A::anything}}},
  {136, "bpf_skc_to_tcp6_sock", {R::btf_id_or_null, {A::btf_id_sock_common}}},
  {137, "bpf_skc_to_tcp_sock", {R::btf_id_or_null, {A::btf_id_sock_common}}},
  {138, "bpf_skc_to_tcp_timewait_sock", {R::btf_id_or_null, {A::btf_id_sock_common}}},
  {139, "bpf_skc_to_tcp_request_sock", {R::btf_id_or_null, {A::btf_id_sock_common}}},
  {140, "bpf_skc_to_udp6_sock", {R::btf_id_or_null, {A::btf_id_sock_common}}},
  {141, "bpf_get_task_stack", {R::integer, {A::btf_id, A::uninit_mem, A::const_size_or_zero, A::anything}}},
  {142, "bpf_load_hdr_opt", {R::integer, {A::ctx, A::writable_mem, A::const_size, A::anything}}},
  {143, "bpf_store_hdr_opt", {R::integer, {A::ctx, A::mem, A::const_size, A::anything}, true}},
  {144, "bpf_reserve_hdr_opt", {R::integer, {A::ctx, A::anything, A::anything}}},
  {145, "bpf_inode_storage_get", {R::map_value_or_null, {A::const_map_ptr, A::btf_id_or_null, A::map_value_or_null, A::anything}}},
  {146, "bpf_inode_storage_delete", {R::integer, {A::const_map_ptr, A::btf_id_or_null}}},
  {147, "bpf_d_path", {R::integer, {A::btf_id, A::uninit_mem, A::const_size_or_zero}}},
  {148, "bpf_copy_from_user", {R::integer, {A::uninit_mem, A::const_size_or_zero, A::anything}}},
  {149, "bpf_snprintf_btf", {R::integer, {A::writable_mem, A::const_size, A::mem, A::const_size, A::anything}}},
  {150, "bpf_seq_printf_btf", {R::integer, {A::btf_id, A::mem, A::const_size_or_zero, A::anything}}},
  {151, "bpf_skb_cgroup_classid", {R::integer, {A::ctx}}},
  {152, "bpf_redirect_neigh", {R::integer, {A::anything, A::mem_or_null, A::const_size_or_zero, A::anything}}},
  {153, "bpf_per_cpu_ptr", {R::mem_or_btf_id_or_null, {A::percpu_btf_id, A::anything}}},
  {154, "bpf_this_cpu_ptr", {R::mem_or_btf_id, {A::percpu_btf_id}}},
  {155, "bpf_redirect_peer", {R::integer, {A::anything, A::anything}}},
  {156, "bpf_task_storage_get", {R::map_value_or_null, {A::const_map_ptr, A::btf_id_or_null, A::map_value_or_null, A::anything}}},
  {157, "bpf_task_storage_delete", {R::integer, {A::const_map_ptr, A::btf_id_or_null}}},
  {158, "bpf_get_current_task_btf", {R::btf_id, {}}},
  {159, "bpf_bprm_opts_set", {R::integer, {A::btf_id, A::anything}}},
  {160, "bpf_ktime_get_coarse_ns", {R::integer, {}}},
  {161, "bpf_ima_inode_hash", {R::integer, {A::btf_id, A::uninit_mem, A::const_size}}},
  {162, "bpf_sock_from_file", {R::btf_id_or_null, {A::btf_id}}},
  {163, "bpf_check_mtu", {R::integer, {A::ctx, A::anything, A::int_ptr, A::anything, A::anything}}},
  {164, "bpf_for_each_map_elem", {R::integer, {A::const_map_ptr, A::func, A::stack_or_null, A::anything}}},
  {165, "bpf_snprintf", {R::integer, {A::mem_or_null, A::const_size_or_zero, A::const_str, A::mem_or_null, A::const_size_or_zero}}},
  {166, "bpf_sys_bpf", {R::integer, {A::anything, A::mem, A::const_size}}},
  {167, "bpf_btf_find_by_name_kind", {R::integer, {A::mem, A::const_size, A::anything, A::anything}}},
  {168, "bpf_sys_close", {R::integer, {A::anything}}},
  {169, "bpf_timer_init", {R::integer, {A::timer, A::const_map_ptr, A::anything}}},
  {170, "bpf_timer_set_callback", {R::integer, {A::timer, A::func}}},
  {171, "bpf_timer_start", {R::integer, {A::timer, A::anything, A::anything}}},
  {172, "bpf_timer_cancel", {R::integer, {A::timer}}},
  {173, "bpf_get_func_ip", {R::integer, {A::ctx}}},
  {174, "bpf_get_attach_cookie", {R::integer, {A::ctx}}},
  {175, "bpf_task_pt_regs", {R::btf_id, {A::btf_id}}},
  {176, "bpf_get_branch_snapshot", {R::integer, {A::uninit_mem, A::const_size_or_zero, A::anything}}},
  {177, "bpf_trace_vprintk", {R::integer, {A::mem, A::const_size, A::mem_or_null, A::const_size_or_zero}}},
  {178, "bpf_skc_to_unix_sock", {R::btf_id_or_null, {A::btf_id_sock_common}}},
  {179, "bpf_kallsyms_lookup_name", {R::integer, {A::mem, A::const_size, A::anything, A::long_ptr}}},
  {180, "bpf_find_vma", {R::integer, {A::btf_id, A::anything, A::func, A::stack_or_null, A::anything}}},
  {181, "bpf_loop", {R::integer, {A::anything, A::func, A::stack_or_null, A::anything}}},
  {182, "bpf_strncmp", {R::integer, {A::mem, A::const_size, A::const_str}}},
  {183, "bpf_get_func_arg", {R::integer, {A::ctx, A::anything, A::long_ptr}}},
  {184, "bpf_get_func_ret", {R::integer, {A::ctx, A::long_ptr}}},
  {185, "bpf_get_func_arg_cnt", {R::integer, {A::ctx}}},
  {186, "bpf_get_retval", {R::integer, {}}},
  {187, "bpf_set_retval", {R::integer, {A::anything}}},
  {188, "bpf_xdp_get_buff_len", {R::integer, {A::ctx}}},
  {189, "bpf_xdp_load_bytes", {R::integer, {A::ctx, A::anything, A::uninit_mem, A::const_size}}},
  {190, "bpf_xdp_store_bytes", {R::integer, {A::ctx, A::anything, A::mem, A::const_size}}},
  {191, "bpf_copy_from_user_task", {R::integer, {A::uninit_mem, A::const_size_or_zero, A::anything, A::btf_id, A::anything}}},
  {192, "bpf_skb_set_tstamp", {R::integer, {A::ctx, A::anything, A::anything}}},
  {193, "bpf_ima_file_hash", {R::integer, {A::btf_id, A::uninit_mem, A::const_size}}},
  {194, "bpf_kptr_xchg", {R::btf_id_or_null, {A::kptr_xchg_dest, A::release_btf_id_or_null}}},
  {195, "bpf_map_lookup_percpu_elem", {R::map_value_or_null, {A::const_map_ptr, A::map_key, A::anything}}},
  {196, "bpf_skc_to_mptcp_sock", {R::btf_id_or_null, {A::btf_id_sock_common}}},
  {197, "bpf_dynptr_from_mem", {R::integer, {A::uninit_mem, A::const_size_or_zero, A::anything, A::uninit_dynptr}}},
  {198, "bpf_ringbuf_reserve_dynptr", {R::integer, {A::const_map_ptr, A::anything, A::anything, A::uninit_dynptr}}},
  {199, "bpf_ringbuf_submit_dynptr", {R::void_, {A::release_dynptr, A::anything}}},
  {200, "bpf_ringbuf_discard_dynptr", {R::void_, {A::release_dynptr, A::anything}}},
  {201, "bpf_dynptr_read", {R::integer, {A::uninit_mem, A::const_size_or_zero, A::dynptr, A::anything, A::anything}}},
  {202, "bpf_dynptr_write", {R::integer, {A::dynptr, A::anything, A::mem, A::const_size_or_zero, A::anything}}},
  {203, "bpf_dynptr_data", {R::dynptr_mem_or_null, {A::dynptr, A::anything, A::const_alloc_size}}},
  {204, "bpf_tcp_raw_gen_syncookie_ipv4", {R::integer, {A::fixed_size_mem, A::mem, A::const_size_or_zero}, false, {20, 0, 0}}},
  {205, "bpf_tcp_raw_gen_syncookie_ipv6", {R::integer, {A::fixed_size_mem, A::mem, A::const_size_or_zero}, false, {40, 0, 0}}},
  {206, "bpf_tcp_raw_check_syncookie_ipv4", {R::integer, {A::fixed_size_mem, A::fixed_size_mem}, false, {20, 20}}},
  {207, "bpf_tcp_raw_check_syncookie_ipv6", {R::integer, {A::fixed_size_mem, A::fixed_size_mem}, false, {40, 20}}},
  {208, "bpf_ktime_get_tai_ns", {R::integer, {}}},
  {209, "bpf_user_ringbuf_drain", {R::integer, {A::const_map_ptr, A::func, A::stack_or_null, A::anything}}},
  {210, "bpf_cgrp_storage_get", {R::map_value_or_null, {A::const_map_ptr, A::btf_id_or_null, A::map_value_or_null, A::anything}}},
  {211, "bpf_cgrp_storage_delete", {R::integer, {A::const_map_ptr, A::btf_id_or_null}}},
    // clang-format on
};

static_assert(std::size(table) == max_linux_helper_id);

}  // namespace

std::span<const LinuxHelperInfo> linux_helper_table() { return table; }

const LinuxHelperInfo* linux_helper_info(std::uint32_t id) {
  if (id == 0 || id > max_linux_helper_id) return nullptr;
  return &table[id - 1];
}

std::optional<HelperPrototype> linux_prototype(std::uint32_t id) {
  const LinuxHelperInfo* info = linux_helper_info(id);
  if (info == nullptr) return std::nullopt;
  return info->prototype;
}

std::optional<std::string_view> linux_helper_name(std::uint32_t id) {
  const LinuxHelperInfo* info = linux_helper_info(id);
  if (info == nullptr) return std::nullopt;
  return info->name;
}

std::optional<std::uint32_t> linux_helper_id(std::string_view name) {
  for (const LinuxHelperInfo& info : table)
    if (info.name == name || info.name.substr(4) == name) return info.id;
  return std::nullopt;
}

int argument_count(const HelperPrototype& prototype) {
  int count = 0;
  for (int i = 0; i < 5; ++i)
    if (prototype.args[i] != ArgKind::none) count = i + 1;
  return count;
}

std::string_view linux_kind_name(ArgKind kind) {
  switch (kind) {
    case ArgKind::none: return "ARG_DONTCARE";
    case ArgKind::anything: return "ARG_ANYTHING";
    case ArgKind::const_map_ptr: return "ARG_CONST_MAP_PTR";
    case ArgKind::map_key: return "ARG_PTR_TO_MAP_KEY";
    case ArgKind::map_value: return "ARG_PTR_TO_MAP_VALUE";
    case ArgKind::mem: return "ARG_PTR_TO_MEM | MEM_RDONLY";
    case ArgKind::mem_or_null: return "ARG_PTR_TO_MEM | PTR_MAYBE_NULL | MEM_RDONLY";
    case ArgKind::uninit_mem: return "ARG_PTR_TO_UNINIT_MEM";
    case ArgKind::const_size: return "ARG_CONST_SIZE";
    case ArgKind::const_size_or_zero: return "ARG_CONST_SIZE_OR_ZERO";
    case ArgKind::ctx: return "ARG_PTR_TO_CTX";
    case ArgKind::func: return "ARG_PTR_TO_FUNC";
    case ArgKind::stack_or_null: return "ARG_PTR_TO_STACK_OR_NULL";
    case ArgKind::long_ptr: return "ARG_PTR_TO_LONG";
    case ArgKind::const_str: return "ARG_PTR_TO_CONST_STR";
    case ArgKind::ringbuf_record: return "ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE";
    case ArgKind::const_alloc_size: return "ARG_CONST_ALLOC_SIZE_OR_ZERO";
    case ArgKind::map_value_or_null: return "ARG_PTR_TO_MAP_VALUE_OR_NULL";
    case ArgKind::uninit_map_value: return "ARG_PTR_TO_UNINIT_MAP_VALUE";
    case ArgKind::writable_mem: return "ARG_PTR_TO_MEM";
    case ArgKind::writable_mem_or_null: return "ARG_PTR_TO_MEM_OR_NULL";
    case ArgKind::int_ptr: return "ARG_PTR_TO_INT";
    case ArgKind::fixed_size_mem: return "ARG_PTR_TO_FIXED_SIZE_MEM | MEM_RDONLY";
    case ArgKind::ctx_or_null: return "ARG_PTR_TO_CTX_OR_NULL";
    case ArgKind::spin_lock: return "ARG_PTR_TO_SPIN_LOCK";
    case ArgKind::timer: return "ARG_PTR_TO_TIMER";
    case ArgKind::sock_common: return "ARG_PTR_TO_SOCK_COMMON";
    case ArgKind::socket: return "ARG_PTR_TO_SOCKET";
    case ArgKind::socket_or_null: return "ARG_PTR_TO_SOCKET_OR_NULL";
    case ArgKind::btf_id_sock_common: return "ARG_PTR_TO_BTF_ID_SOCK_COMMON";
    case ArgKind::release_sock_common: return "ARG_PTR_TO_BTF_ID_SOCK_COMMON | OBJ_RELEASE";
    case ArgKind::btf_id: return "ARG_PTR_TO_BTF_ID";
    case ArgKind::btf_id_or_null: return "ARG_PTR_TO_BTF_ID_OR_NULL";
    case ArgKind::release_btf_id_or_null: return "ARG_PTR_TO_BTF_ID_OR_NULL | OBJ_RELEASE";
    case ArgKind::percpu_btf_id: return "ARG_PTR_TO_PERCPU_BTF_ID";
    case ArgKind::kptr_xchg_dest: return "ARG_KPTR_XCHG_DEST";
    case ArgKind::dynptr: return "ARG_PTR_TO_DYNPTR";
    case ArgKind::uninit_dynptr: return "ARG_PTR_TO_DYNPTR | MEM_UNINIT";
    case ArgKind::release_dynptr: return "ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_RINGBUF | OBJ_RELEASE";
    case ArgKind::unsafe_ptr: return "ARG_ANYTHING";
    // bpfvm's built-in functions: no Linux kind; the nearest one.
    case ArgKind::const_sized_uninit_mem: return "ARG_PTR_TO_UNINIT_MEM (bpfvm built-in)";
    case ArgKind::const_sized_mem: return "ARG_PTR_TO_MEM | MEM_RDONLY (bpfvm built-in)";
    case ArgKind::exact_const_size: return "ARG_CONST_SIZE_OR_ZERO, exact (bpfvm built-in)";
  }
  return "ARG_?";
}

std::string_view linux_kind_name(ReturnKind kind) {
  switch (kind) {
    case ReturnKind::integer: return "RET_INTEGER";
    case ReturnKind::void_: return "RET_VOID";
    case ReturnKind::map_value_or_null: return "RET_PTR_TO_MAP_VALUE_OR_NULL";
    case ReturnKind::ringbuf_record_or_null: return "RET_PTR_TO_RINGBUF_MEM_OR_NULL";
    case ReturnKind::no_return: return "RET_VOID (tail call)";
    case ReturnKind::map_value: return "RET_PTR_TO_MAP_VALUE";
    case ReturnKind::socket_or_null: return "RET_PTR_TO_SOCKET_OR_NULL";
    case ReturnKind::acquired_socket_or_null: return "RET_PTR_TO_SOCKET_OR_NULL (acquire)";
    case ReturnKind::acquired_sock_common_or_null:
      return "RET_PTR_TO_SOCK_COMMON_OR_NULL (acquire)";
    case ReturnKind::tcp_sock_or_null: return "RET_PTR_TO_TCP_SOCK_OR_NULL";
    case ReturnKind::mem_or_btf_id: return "RET_PTR_TO_MEM_OR_BTF_ID";
    case ReturnKind::mem_or_btf_id_or_null: return "RET_PTR_TO_MEM_OR_BTF_ID | PTR_MAYBE_NULL";
    case ReturnKind::btf_id: return "RET_PTR_TO_BTF_ID";
    case ReturnKind::btf_id_or_null: return "RET_PTR_TO_BTF_ID_OR_NULL";
    case ReturnKind::dynptr_mem_or_null: return "RET_PTR_TO_DYNPTR_MEM_OR_NULL";
    case ReturnKind::first_argument: return "r1 (bpfvm built-in)";
  }
  return "RET_?";
}

}  // namespace bpfvm
