using DingTalk.CardGateway.Cards;

namespace DingTalk.CardGateway.Tests.Cards;

public class OpenSpaceTests
{
    [Fact]
    public void A_group_target_is_an_IM_GROUP_space_delivered_by_the_robot()
    {
        var space = OpenSpace.For(new CardTarget("cidAbC==", null), "robot-1", ["u1", "u1", "u2"]);

        Assert.Equal("dtv1.card//IM_GROUP.cidAbC==", space.OpenSpaceId);
        Assert.NotNull(space.ImGroupOpenSpaceModel);
        Assert.Equal("robot-1", space.ImGroupOpenDeliverModel!.RobotCode);
        Assert.Equal(["u1", "u2"], space.ImGroupOpenDeliverModel.AtUserIds!.Keys.Order());
        Assert.Null(space.ImRobotOpenSpaceModel);
        Assert.Null(space.ImRobotOpenDeliverModel);
    }

    [Fact]
    public void User_targets_are_IM_ROBOT_spaces_joined_by_semicolons()
    {
        var space = OpenSpace.For(new CardTarget(null, ["u1", "u2", "u1"]), "robot-1");

        Assert.Equal("dtv1.card//IM_ROBOT.u1;IM_ROBOT.u2", space.OpenSpaceId);
        Assert.Equal("IM_ROBOT", space.ImRobotOpenDeliverModel!.SpaceType);
        Assert.Equal("robot-1", space.ImRobotOpenDeliverModel.RobotCode);
        Assert.NotNull(space.ImRobotOpenSpaceModel);
        Assert.Null(space.ImGroupOpenDeliverModel);
    }

    [Fact]
    public void A_target_without_group_or_users_is_refused() =>
        Assert.Throws<ArgumentException>(() => OpenSpace.For(new CardTarget(null, []), "robot-1"));
}
