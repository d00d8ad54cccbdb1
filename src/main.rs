fn main() {
    std::process::exit(rollgate::cli::main());
}
