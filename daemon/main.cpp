#include "daemon/cli.h"

int main(int argc, char** argv) { return landfall::cli::Main(argc, argv); }
