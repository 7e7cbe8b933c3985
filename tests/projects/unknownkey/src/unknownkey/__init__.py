def main():
    print("hi")


def admin():
    print("admin")
