fn main() -> std::process::ExitCode {
    sa::cli::main()
}
