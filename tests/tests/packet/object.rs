//! The XDP object itself: `lb` verifies well inside the kernel's budget, and no program calls
//! a byte-loop memory function.

use lb_tests::{require_root, testrun::Harness};

#[test]
fn lb_stays_well_inside_the_verifiers_budget() {
    require_root!();
    let mut h = Harness::new::<std::net::IpAddr>(&super::ipv4::services([1, 1, 1]), &[]);
    // `lb` and every program it tail-calls: each is verified on its own.
    let names = std::iter::once("lb").chain(lb_common::prog_slot::NAMES);
    let mut over = Vec::new();
    for name in names {
        let prog = h.dp.program(name).unwrap();
        let n = prog
            .info()
            .ok()
            .and_then(|i| i.verified_instruction_count())
            .expect("the kernel reports verified instructions");
        eprintln!("{name}: {n} instructions processed by the verifier (limit 1,000,000)");
        // The verifier walks every path; a program near the limit fails to load after the
        // next small change. Keep a margin, and split the program (tail calls, global
        // functions) when this fails.
        if n >= 750_000 {
            over.push(format!("{name} took {n} verifier steps"));
        }
    }
    assert!(over.is_empty(), "{over:?}");
}

#[test]
fn the_programs_call_no_byte_loop_memory_functions() {
    // LLVM turns a copy it cannot prove free of overlap (or a large zeroed value) into a call
    // to a `memmove` / `memcpy` / `memset` subprogram: a byte loop per packet, and a sign that
    // a struct went by value where it should not. The object must have none.
    use object::{Object, ObjectSection, ObjectSymbol};
    let file = object::File::parse(lb_daemon::dataplane::OBJECT).expect("the XDP object");
    let mut calls = Vec::new();
    for section in file.sections() {
        for (_, rel) in section.relocations() {
            if let object::RelocationTarget::Symbol(i) = rel.target()
                && let Ok(sym) = file.symbol_by_index(i)
                && let Ok(name) = sym.name()
                && ["memset", "memcpy", "memmove", "memcmp", "bcmp"].contains(&name)
            {
                calls.push(format!("{} in {}", name, section.name().unwrap_or("?")));
            }
        }
    }
    assert!(calls.is_empty(), "calls to memory functions: {calls:?}");
}
