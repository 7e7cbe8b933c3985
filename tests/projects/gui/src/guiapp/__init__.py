def main():
    # A real GUI would open a window; this one proves the gui_scripts entry point runs.
    print("gui entry point ran")
